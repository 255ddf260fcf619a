import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memory } from '../../src/index.ts';

const { MODELS, adapterLayerActivations, appendixC, auditTable7, baseLayerActivations, korthikantiBytes, methodMemory } = memory;

const gpt = (d: number, h: number): memory.TransformerConfig => ({
  name: 'gpt', layers: 1, hidden: d, heads: h, ffn: 4 * d, vocab: 10, mlp: 'gelu', dropout: true, tiedEmbeddings: true,
});
const sum = (items: memory.Item[]) => items.reduce((n, x) => n + x.bytes, 0);

describe('activation model', () => {
  it('Full-FT on a GPT layer in 16 bits is exactly 34·b·s·d + 5·b·h·s² (Korthikanti et al.)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 8 }),
      (b, s, dPerHead, h) => {
        const d = dPerHead * h, run = { batch: b, seq: s, bytes: 2, rank: 1 };
        const total = sum(baseLayerActivations(gpt(d, h), run)) + sum(adapterLayerActivations(gpt(d, h), 'full', run));
        expect(total).toBe(korthikantiBytes(b, s, d, h));
      }));
  });

  it('per adapted linear: LoRA keeps X and XA, LoRA-FB X, LoRA-FA only XA (docs/math.md table)', () => {
    const cfg = gpt(64, 4), run = { batch: 2, seq: 8, bytes: 4, rank: 3, targets: ['o'] };
    const N = 16, d = 64, r = 3;
    expect(sum(adapterLayerActivations(cfg, 'lora', run))).toBe(4 * N * (d + r));
    expect(sum(adapterLayerActivations(cfg, 'lorafb', run))).toBe(4 * N * d);
    expect(sum(adapterLayerActivations(cfg, 'lorafa', run))).toBe(4 * N * r);
    expect(sum(adapterLayerActivations(cfg, 'lorafa', { ...run, peftDropout: true }))).toBe(4 * N * r);
  });

  it('LoRA with PEFT\'s adapter dropout keeps one dropped copy and mask per adapted linear instead of a shared input', () => {
    const cfg = gpt(8, 2), run = { batch: 1, seq: 4, bytes: 2, rank: 1, targets: ['q', 'k', 'v'] };
    const shared = sum(adapterLayerActivations(cfg, 'lora', run));
    const own = sum(adapterLayerActivations(cfg, 'lora', { ...run, peftDropout: true }));
    expect(shared).toBe(4 * 8 * 2 + 3 * 4 * 1 * 2);
    expect(own).toBe(3 * 4 * 8 * (2 + 1) + 3 * 4 * 1 * 2);
  });

  it('counts Llama2-7B parameters (6.74 B) and trainable parameters per method', () => {
    const run = { batch: 1, seq: 1, bytes: 2, rank: 8 };
    const cfg = MODELS['llama2-7b']!;
    expect(methodMemory(cfg, 'full', run).totalParams).toBe(6_738_415_616);
    const perLayer = { lora: 8 * (4 * 8192 + 3 * (4096 + 11008)), lorafa: 8 * (4 * 4096 + 2 * 11008 + 4096), lorafb: 8 * (6 * 4096 + 11008) };
    for (const m of ['lora', 'lorafa', 'lorafb'] as const) expect(methodMemory(cfg, m, run).trainableParams).toBe(32 * perLayer[m]);
  });
});

describe('paper audits', () => {
  it('Table 7: FP32 sums its columns but its GELU cell is 4× too large; FP16 and BF16 rows do not sum their columns', () => {
    const [fp32, fp16, bf16] = auditTable7();
    expect(fp32).toMatchObject({ printedSum: '114bsd+9bhss', printedSumMatchesColumns: true, recomputedSum: '66bsd+9bhss' });
    expect(fp32!.wrongCells).toEqual([{ column: 'GELU input', printed: '64bsd', expected: '16bsd' }]);
    expect(fp16).toMatchObject({ printedSum: '58bsd+5bhss', columnsSum: '34bsd+5bhss', printedSumMatchesColumns: false, wrongCells: [], recomputedSum: '34bsd+5bhss' });
    expect(bf16).toMatchObject({ printedSum: '86bsd+7bhss', printedSumMatchesColumns: false, recomputedSum: '38bsd+7bhss' });
  });

  it('Appendix C: ≥ 18 GB for Llama2-7B, b = 8, s = 1024 only when every adapted linear keeps its own input', () => {
    const c = appendixC();
    expect(c.ownCopies).toBe(32 * 8192 * (6 * 4096 + 11008) * 2);
    expect(c.ownCopies).toBeGreaterThanOrEqual(18e9);
    expect(c.sharedInputs).toBe(32 * 8192 * (3 * 4096 + 11008) * 2);
    expect(c.sharedInputs).toBeLessThan(18e9);
  });
});
