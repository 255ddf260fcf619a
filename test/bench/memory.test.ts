import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { full, ops, randn, scope } from '../../src/index.ts';
import { bytesByColumn, LN_STATS, measureForward, OTHER, table7Columns } from '../../src/memory/table7-columns.ts';
import { transformerConfig } from '../../src/lab/accounting.ts';
import { methodMemory, korthikantiBytes } from '../../src/memory/model.ts';
import { expectedCell, TABLE7_COLUMNS } from '../../src/memory/table7.ts';
import { applyAdapters } from '../../src/lora/adapters.ts';
import { Linear } from '../../src/nn/linear.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear } from '../../src/lora/layers.ts';
import { buildModule } from '../../src/nn/module.ts';
import { Block } from '../../src/nn/transformer.ts';

// The exact counts bench/memory.ts reports, on sizes small enough for a test.
describe('memory benchmark: one adapted linear layer', () => {
  it('saves exactly docs/math.md\'s elements × 4 bytes for every method, with and without adapter dropout', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), (N, d, r0, drop) => {
      const o = 6, r = Math.min(r0, d, o), p = drop ? 0.25 : 0;
      const x = full([N, d], 0.5);
      const bytes = (make: (base: Linear) => { forward: (x: ReturnType<typeof full>) => ReturnType<typeof full> }) => {
        const layer = make(new Linear(d, o, { seed: 1 }));
        return measureForward(() => layer.forward(x)).bytes;
      };
      expect(bytes((b) => b)).toBe(4 * N * d);
      expect(bytes((b) => new LoraLinear(b, { rank: r, alpha: 1, seed: 2, dropout: p }))).toBe(4 * N * (d + r));
      expect(bytes((b) => new LoraFbLinear(b, { rank: r, alpha: 1, seed: 2, dropout: p }))).toBe(4 * N * d);
      expect(bytes((b) => new LoraFaLinear(b, { rank: r, alpha: 1, seed: 2, dropout: p }))).toBe(4 * N * r);
    }), { numRuns: 15 });
  });
});

describe('memory benchmark: one transformer block', () => {
  const [b, s, d, h] = [2, 6, 8, 2];
  const bsd = b * s * d, bhss = b * h * s * s, bs = b * s;
  const x0 = randn([b, s, d], { seed: 4, requiresGrad: true });
  const measure = (dropout: number, method: 'full' | 'lora' | 'lorafa' | 'lorafb' = 'full') => scope(() => {
    const block = buildModule(() => new Block(d, h, s, { dropout, seed: 3 }));
    if (method !== 'full') applyAdapters(block, { method, rank: 2, alpha: 4, seed: 1 });
    const x = ops.add(x0, 0); // requires grad, not a leaf: as between two blocks
    const r = measureForward(() => block.forward(x));
    return { bytes: r.bytes, columns: bytesByColumn(r.entries) };
  });

  it('matches Table 7\'s FP32 columns op by op, except the masks (regenerated) and the GELU cell', () => {
    const { bytes, columns } = measure(0.1);
    TABLE7_COLUMNS.forEach((c, i) => {
      const e = expectedCell('fp32', i);
      const want = c.endsWith('mask') ? 0 : e.bsd * bsd + e.bhss * bhss;
      expect(columns.get(c), c).toBe(want);
    });
    expect(columns.get('GELU input')).toBe(16 * bsd); // the printed cell says 64·bsd
    expect(columns.get(LN_STATS)).toBe(16 * bs);
    expect(columns.get(OTHER)).toBe(0);
    expect(bytes).toBe(64 * bsd + 8 * bhss + 16 * bs);
    // Korthikanti et al. (16-bit) = the same tensors at 2 bytes + three 1-byte masks − LN statistics
    expect(korthikantiBytes(b, s, d, h)).toBe(bytes / 2 + 2 * bsd + bhss - 8 * bs);
  });

  it('sorts Q, K, V from the probabilities by save order when s = d/h makes all four square', () => {
    const [b2, s2, d2, h2] = [2, 4, 8, 2]; // dh = 4 = s
    const [bsd2, bhss2] = [b2 * s2 * d2, b2 * h2 * s2 * s2];
    const x = randn([b2, s2, d2], { seed: 4, requiresGrad: true });
    for (const [dropout, method] of [[0.1, 'full'], [0, 'full'], [0.1, 'lorafa']] as const) {
      const columns = scope(() => {
        const block = buildModule(() => new Block(d2, h2, s2, { dropout, seed: 3 }));
        if (method !== 'full') applyAdapters(block, { method, rank: 2, alpha: 4, seed: 1 });
        return bytesByColumn(measureForward(() => block.forward(ops.add(x, 0))).entries);
      });
      expect(columns.get('QKV'), `${method}, dropout ${dropout}`).toBe(12 * bsd2);
      expect(columns.get('softmax')).toBe(4 * bhss2);
      expect(columns.get('matmul V')).toBe(dropout ? 4 * bhss2 : 0);
      expect(columns.get(OTHER)).toBe(0);
    }
  });

  it('reads the save order when only some operands need a gradient', () => {
    const e = (op: string, shape: number[]) => ({ op, module: 'blocks.0.attn', shape, dtype: 'float32' as const, bytes: 4, kind: 'activation' as const });
    const sq = [1, 2, 4, 4];
    // P needs a gradient, V does not: Q, K, softmax output, then only V (P̃ is not saved)
    expect(table7Columns([e('matmul', sq), e('matmul', sq), e('softmax', sq), e('matmul', sq)], 'blocks.0.')).toEqual(['QKV', 'QKV', 'softmax', 'QKV']);
    // Q and K need none: no softmax entry, and P̃·V saves only P̃
    expect(table7Columns([e('matmul', sq)], 'blocks.0.')).toEqual(['matmul V']);
    expect(table7Columns([e('matmul', sq), e('matmul', sq), e('softmax', sq), e('matmul', sq), e('matmul', sq)], 'blocks.0.'))
      .toEqual(['QKV', 'QKV', 'softmax', 'matmul V', 'QKV']);
    expect(table7Columns([e('matmul', sq)], 'blocks.1.')).toEqual([OTHER]); // another block's entries
  });

  it('without dropout the probabilities are saved once (softmax output = input of probs·V)', () => {
    const { bytes, columns } = measure(0);
    expect(columns.get('softmax')).toBe(4 * bhss);
    expect(columns.get('matmul V')).toBe(0);
    expect(bytes).toBe(64 * bsd + 4 * bhss + 16 * bs);
  });

  it('differs from the per-layer analytic model by the LN statistics minus the masks, for every method', () => {
    const tcfg = transformerConfig({ vocab: 1, dim: d, heads: h, layers: 1, context: s, dropout: 0.1 });
    for (const method of ['full', 'lora', 'lorafa', 'lorafb'] as const) {
      const analytic = methodMemory(tcfg, method, { batch: b, seq: s, bytes: 4, rank: 2 }).activations;
      expect(measure(0.1, method).bytes - analytic, method).toBe(16 * bs - 2 * bsd - bhss);
    }
  });
});
