/**
 * Initial values of the LoRA factors, made on the host in float64 (so a layer can factor its
 * frozen matrix without reading it back from a device). A factor holds r vectors of length n:
 * the columns of A [d, r] (n = d) or the rows of B [r, o] (n = o). The paper's §6.5 ablation
 * compares three random inits; all three give vectors of unit expected squared norm, so they
 * differ in distribution, not in scale:
 *   gaussian    entries N(0, 1/n)
 *   uniform     entries U(−√(3/n), √(3/n))   (variance 1/n)
 *   orthogonal  orthonormal vectors: Gram–Schmidt (applied twice) on a gaussian draw; needs r ≤ n
 *   zeros       the usual init of the trained factor, so the adapter starts as ΔW = 0
 */
import { fail } from '../errors.ts';
import { blocksUsed, checkSeed, fillNormal, fillUniform, nextRandomState } from '../random.ts';
import type { GramSide } from './gram.ts';

export type LoraInit = 'gaussian' | 'uniform' | 'orthogonal' | 'zeros';
export const LORA_INITS: readonly LoraInit[] = ['gaussian', 'uniform', 'orthogonal', 'zeros'];

/** Successive (seed, offset) draws: from one seed's own stream, or from the global generator. */
export interface RandomStream {
  take(dist: 'uniform' | 'normal', size: number): { seed: number; offset: number };
}

export function randomStream(op: string, seed?: number): RandomStream {
  if (seed === undefined) return { take: nextRandomState };
  checkSeed(op, seed);
  let offset = 0;
  return {
    take(dist, size) {
      const at = { seed, offset };
      offset = (offset + blocksUsed(dist, size)) >>> 0;
      return at;
    },
  };
}

/** Values of a [rows, cols] factor whose vectors run along `side` ('columns' for A, 'rows' for B). */
export function initFactor(op: string, init: LoraInit, rows: number, cols: number, side: GramSide, stream: RandomStream): Float64Array {
  const [r, n] = side === 'columns' ? [cols, rows] : [rows, cols];
  const out = new Float64Array(rows * cols);
  if (init === 'zeros') return out;
  // vectors[k] holds vector k (length n); written into out at the end
  const vectors = new Float64Array(r * n);
  if (init === 'gaussian' || init === 'orthogonal') {
    const { seed, offset } = stream.take('normal', r * n);
    fillNormal(vectors, seed, offset);
    if (init === 'gaussian') vectors.forEach((v, i) => (vectors[i] = v / Math.sqrt(n)));
    else orthonormalize(op, vectors, r, n);
  } else if (init === 'uniform') {
    const { seed, offset } = stream.take('uniform', r * n);
    fillUniform(vectors, seed, offset);
    const bound = Math.sqrt(3 / n);
    vectors.forEach((u, i) => (vectors[i] = (2 * u - 1) * bound));
  } else {
    fail(op, `init '${String(init)}' is unknown; expected one of ${LORA_INITS.join(', ')}`);
  }
  for (let k = 0; k < r; k++) {
    for (let i = 0; i < n; i++) out[side === 'columns' ? i * cols + k : k * cols + i] = vectors[k * n + i]!;
  }
  return out;
}

/** In place: makes the r vectors of length n orthonormal (modified Gram–Schmidt, twice for accuracy). */
function orthonormalize(op: string, v: Float64Array, r: number, n: number): void {
  if (r > n) fail(op, `an orthogonal init needs r ≤ n, got ${r} vectors of length ${n}`);
  for (let k = 0; k < r; k++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < k; j++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += v[j * n + i]! * v[k * n + i]!;
        for (let i = 0; i < n; i++) v[k * n + i]! -= dot * v[j * n + i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[k * n + i]! ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) v[k * n + i]! /= norm;
  }
}
