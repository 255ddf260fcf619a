import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { full, ops, randn, scope } from '../../src/index.ts';
import { bytesByColumn, LN_STATS, measureForward, OTHER } from '../../src/lab/saved-columns.ts';
import { transformerConfig } from '../../src/lab/accounting.ts';
import { methodMemory, korthikantiBytes } from '../../src/memory/model.ts';
import { expectedCell, TABLE7_COLUMNS } from '../../src/memory/table7.ts';
import { applyAdapters } from '../../src/nn/adapters.ts';
import { Linear } from '../../src/nn/linear.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear } from '../../src/nn/lora.ts';
import { buildModule } from '../../src/nn/module.ts';
import { Block } from '../../src/nn/transformer.ts';

// The exact counts bench/memory.ts reports, on sizes small enough for a test.
describe('memory benchmark: one adapted linear layer', () => {
  it('saves exactly MATH.md\'s elements × 4 bytes for every method, with and without adapter dropout', () => {
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
