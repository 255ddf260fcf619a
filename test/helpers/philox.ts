/**
 * An independent Philox-4x32-10 for tests, written from Salmon et al. (SC'11) with BigInt
 * products (the engine uses 16-bit halves), and the engine's documented streams built on it.
 * Checked against Random123's known-answer vectors in test/core/random.test.ts.
 */

const M0 = 0xd2511f53n, M1 = 0xcd9e8d57n;
const W0 = 0x9e3779b9, W1 = 0xbb67ae85;
const MASK = 0xffffffffn;

/** Philox-4x32 with R rounds; the key is bumped before every round but the first. */
export function philoxRef(counter: readonly number[], key: readonly number[], rounds = 10): number[] {
  let [c0, c1, c2, c3] = counter.map(BigInt) as [bigint, bigint, bigint, bigint];
  let [k0, k1] = key as [number, number];
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const p0 = M0 * c0, p1 = M1 * c2;
    [c0, c1, c2, c3] = [(p1 >> 32n) ^ c1 ^ BigInt(k0), p1 & MASK, (p0 >> 32n) ^ c3 ^ BigInt(k1), p0 & MASK];
  }
  return [c0, c1, c2, c3].map(Number);
}

/** The engine's uniform stream (random.ts): element i from block offset + ⌊i/4⌋, lane i mod 4, top 24 bits. */
export function uniformRef(n: number, seed: number, offset: number): number[] {
  return Array.from({ length: n }, (_, i) => (philoxRef([(offset + Math.floor(i / 4)) >>> 0, 0, 0, 0], [seed, 0])[i % 4]! >>> 8) / 2 ** 24);
}

/** The dropout mask: keep iff the 24-bit draw ≥ round(p·2²⁴). */
export function dropoutMaskRef(n: number, p: number, seed: number, offset: number): boolean[] {
  return uniformRef(n, seed, offset).map((u) => u * 2 ** 24 >= Math.round(p * 2 ** 24));
}
