/**
 * Edges of the LoRA layers, applyAdapters and the factor inits, each check written for a mutant
 * that survived the rest of the suite (docs/verification.md, "Survivors"): which random numbers
 * an init draws (the stream's offsets, the orthogonal init's Gram–Schmidt), options passed
 * through applyAdapters, messages, prepare()'s cache, what applyAdapters frees.
 */
import { describe, expect, it } from 'vitest';
import { getBackend, tensor, type Tensor } from '../../src/index.ts';
import { applyAdapters } from '../../src/lora/adapters.ts';
import { DoraLinear } from '../../src/lora/dora-layer.ts';
import { loraFactorStats } from '../../src/lora/factor-cache.ts';
import { initFactor, randomStream, type LoraInit } from '../../src/lora/init.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear, LoraProLinear } from '../../src/lora/layers.ts';
import { VeraLinear } from '../../src/lora/vera-layer.ts';
import { Linear } from '../../src/nn/linear.ts';
import { Module } from '../../src/nn/module.ts';
import { fillNormal, fillUniform } from '../../src/random.ts';
import { expectError } from '../helpers/errors.ts';

const cpu = getBackend('cpu');
const linear = (d: number, o: number, s: number) => new Linear(d, o, { dtype: 'float64', seed: s });
const both = ['wide', 'tall'];
const data = (t: Tensor) => Array.from(t.dataSync());

/** Two float64 Linear layers of different shapes: 'wide' [3, 9] and 'tall' [7, 2]. */
class Two extends Module {
  wide: Linear;
  tall: Linear;
  constructor() {
    super();
    this.wide = this.registerModule('wide', linear(3, 9, 1));
    this.tall = this.registerModule('tall', linear(7, 2, 2));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** [rows, cols] row-major from vectors (r vectors of length n) laid along columns or rows. */
function layout(vectors: number[][], rows: number, cols: number, side: 'columns' | 'rows'): number[] {
  const out = new Array<number>(rows * cols);
  vectors.forEach((v, k) => v.forEach((x, i) => (out[side === 'columns' ? i * cols + k : k * cols + i] = x)));
  return out;
}

/** Modified Gram–Schmidt applied twice per vector, then normalized: the orthogonal init, written out again. */
function orthonormal(v: number[][]): number[][] {
  const out = v.map((x) => [...x]);
  out.forEach((vk, k) => {
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < k; j++) {
        let dot = 0;
        for (let i = 0; i < vk.length; i++) dot += out[j]![i]! * vk[i]!;
        for (let i = 0; i < vk.length; i++) vk[i]! -= dot * out[j]![i]!;
      }
    }
    let norm = 0;
    for (const x of vk) norm += x ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < vk.length; i++) vk[i]! /= norm;
  });
  return out;
}

const chunks = (a: Float64Array, n: number) => Array.from({ length: a.length / n }, (_, k) => Array.from(a.subarray(k * n, (k + 1) * n)));

describe('init: the numbers drawn', () => {
  it('a seeded stream hands out consecutive Philox blocks: ⌈size/4⌉ per uniform draw, size per normal draw', () => {
    const s = randomStream('op', 5);
    expect([s.take('uniform', 9), s.take('normal', 3), s.take('uniform', 1), s.take('uniform', 4)].map((t) => t.offset)).toEqual([0, 3, 6, 7]);
  });

  it('A uniform then B uniform: A from block 0 scaled to ±√(3/d), B from block ⌈d·r/4⌉ scaled to ±√(3/o)', () => {
    const [d, r, o, seed] = [5, 3, 4, 7];
    const layer = new LoraLinear(linear(d, o, 1), { rank: r, alpha: 1, initA: 'uniform', initB: 'uniform', seed });
    const u = (n: number, offset: number, bound: number) => {
      const v = new Float64Array(n);
      fillUniform(v, seed, offset);
      return chunks(v.map((x) => (2 * x - 1) * bound), n / r);
    };
    expect(data(layer.A)).toEqual(layout(u(d * r, 0, Math.sqrt(3 / d)), d, r, 'columns'));
    expect(data(layer.B)).toEqual(layout(u(r * o, 4, Math.sqrt(3 / o)), r, o, 'rows')); // ⌈15/4⌉ = 4
  });

  it('the orthogonal init is Gram–Schmidt, twice, of the seed\'s gaussian draw, vector by vector, exactly', () => {
    for (const [d, r, o] of [[6, 4, 5], [4, 4, 4]]) {
      const layer = new LoraFaLinear(linear(d, o, 1), { rank: r, alpha: 1, initA: 'orthogonal', seed: 3 });
      const g = new Float64Array(d * r);
      fillNormal(g, 3, 0);
      expect(data(layer.A)).toEqual(layout(orthonormal(chunks(g, d)), d, r, 'columns'));
      // and B of LoRA-FB, along rows
      const fb = new LoraFbLinear(linear(o, d, 1), { rank: r, alpha: 1, initB: 'orthogonal', seed: 3 });
      expect(data(fb.B)).toEqual(layout(orthonormal(chunks(g, d)), r, d, 'rows'));
    }
  });

  it('initFactor names the inits it knows', () => {
    expectError(() => initFactor('op', 'he' as LoraInit, 2, 2, 'columns', randomStream('op', 1)), 'op', "init 'he' is unknown; expected one of gaussian, uniform, orthogonal, zeros");
  });
});

describe('LoRA layers: options and messages', () => {
  it('alpha = 0 names the σ it would give, with and without rsLoRA', () => {
    expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 2, alpha: 0 }), 'LoraLinear', 'σ = α / r ≠ 0 (r = 2)');
    expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 2, alpha: 0, rslora: true }), 'LoraLinear', 'σ = α / √r ≠ 0 (r = 2)');
  });

  it('svdInit refuses initB too; a LoRA-GA init is recorded as such; svdInit that is not an object is refused', () => {
    expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 1, alpha: 1, svdInit: 'pissa', initB: 'uniform' }), 'LoraLinear', 'svdInit sets both A and B; expected no initA or initB with it');
    const gradient = Float64Array.from({ length: 12 }, (_, i) => Math.sin(i + 1));
    expect(new LoraLinear(linear(4, 3, 1), { rank: 1, alpha: 1, svdInit: { gradient } }).init).toBe('lora-ga');
    for (const bad of [null, 3, Object.assign(() => 0, { gradient })]) {
      expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 1, alpha: 1, svdInit: bad as never }), 'LoraLinear', "is invalid; expected 'pissa' or LoRA-GA's { gradient, scale?, gamma? }");
    }
  });

  it('sgdDirection() with no gradient says so', () => {
    expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 1, alpha: 1 }).sgdDirection(), 'LoraLinear', 'sgdDirection(): neither A nor B has a gradient; expected a backward first');
  });

  it('unmerge() names both A and B when both changed since merge()', () => {
    const layer = new LoraLinear(linear(4, 3, 1), { rank: 1, alpha: 1, initB: 'gaussian', seed: 2 });
    layer.merge();
    layer.A.assign(tensor(Array.from(layer.A.dataSync()), { shape: layer.A.shape, dtype: 'float64' }));
    layer.B.assign(tensor(Array.from(layer.B.dataSync()), { shape: layer.B.shape, dtype: 'float64' }));
    expectError(() => layer.unmerge(), 'LoraLinear', /unmerge\(\): A \[4, 1\].* changed in place since merge\(\) \(version \d+ → \d+\) and B \[1, 3\]/);
  });

  it('LoraProLinear without options is refused with the rank message, not a TypeError', () => {
    expectError(() => new LoraProLinear(linear(4, 3, 1), undefined as never), 'LoraProLinear', 'rank = undefined is out of range');
    expectError(() => new LoraProLinear(linear(4, 3, 1), null as never), 'LoraProLinear');
  });

  it('prepare() factors nothing without the closed-form correction, and finds the factor primed with the layer\'s ridge', async () => {
    const none = new LoraFaLinear(linear(4, 3, 1), { rank: 2, alpha: 1, correction: 'none' });
    let before = loraFactorStats();
    await none.prepare();
    expect(loraFactorStats()).toEqual(before);
    const ridged = new LoraFaLinear(linear(4, 3, 1), { rank: 2, alpha: 1, ridge: 1e-3 });
    before = loraFactorStats();
    await ridged.prepare();
    expect(loraFactorStats()).toEqual(before);
  });
});

describe('applyAdapters: options passed through', () => {
  it('refuses options that are not an object', () => {
    for (const bad of [null, 3]) expectError(() => applyAdapters(new Two(), bad as never), 'applyAdapters', 'expected options { method, rank, alpha, ... }');
  });

  it('loraGa options go with init lora-ga; every layer without a gradient is named', () => {
    const gradients = { wide: new Float64Array(27).map((_, i) => Math.cos(i)), tall: new Float64Array(14).map((_, i) => Math.sin(i + 1)) };
    const report = applyAdapters(new Two(), { targets: both, method: 'lora', rank: 1, alpha: 1, init: 'lora-ga', gradients, loraGa: { gamma: 4 } });
    expect(report.replaced).toEqual(['wide', 'tall']);
    expectError(() => applyAdapters(new Two(), { targets: both, method: 'lora', rank: 1, alpha: 1, init: 'lora-ga', gradients: {} }), 'applyAdapters', "init 'lora-ga' has no gradient for wide, tall;");
  });

  it('a random init goes to the trained factor\'s partner: A for LoRA, B for LoRA-FB', () => {
    const m = new Two();
    applyAdapters(m, { targets: both, method: 'lorafb', rank: 2, alpha: 1, init: 'orthogonal', seed: 1 });
    const B = (m.wide as unknown as LoraFbLinear).B; // [2, 9], rows orthonormal
    const rows = chunks(Float64Array.from(B.dataSync()), 9);
    expect(rows.map((a) => rows.map((b) => a.reduce((s, x, i) => s + x * b[i]!, 0)))).toEqual([[expect.closeTo(1, 12), expect.closeTo(0, 12)], [expect.closeTo(0, 12), expect.closeTo(1, 12)]]);
  });

  it('DoRA gets detachNorm; VeRA gets dInitial and dropout, and shares projections as wide as the widest layer', () => {
    const dora = new Two();
    applyAdapters(dora, { targets: both, method: 'dora', rank: 1, alpha: 1, detachNorm: true });
    expect((dora.wide as unknown as DoraLinear).detachNorm).toBe(true);
    const vera = new Two();
    applyAdapters(vera, { targets: both, method: 'vera', rank: 2, dInitial: 0.5, dropout: 0.25, seed: 1 });
    const [wide, tall] = [vera.wide, vera.tall] as unknown as VeraLinear[];
    expect([data(wide!.lambdaD), wide!.dropout]).toEqual([[0.5, 0.5], 0.25]);
    expect([wide!.A.shape, wide!.B.shape, tall!.A.shape, tall!.B.shape]).toEqual([[3, 2], [2, 9], [7, 2], [2, 2]]);
  });

  it('VeRA: applyAdapters keeps no handle of its own on the shared projections', () => {
    const before = cpu.memory().liveBytes;
    const m = new Two();
    applyAdapters(m, { targets: both, method: 'vera', rank: 2, seed: 1 });
    m.dispose();
    expect(cpu.memory().liveBytes).toBe(before);
  });
});
