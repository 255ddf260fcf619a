import { describe, expect, it } from 'vitest';
import { scope, tensor } from '../../src/index.ts';
import { savedBreakdown } from '../../src/lab/accounting.ts';
import { measureForward } from '../../src/memory/table7-columns.ts';
import { applyAdapters } from '../../src/lora/adapters.ts';
import { buildModule } from '../../src/nn/module.ts';
import { GPT, type GptConfig } from '../../src/nn/transformer.ts';
import { CHECKPOINTING } from '../../src/memory/model.ts';

describe('savedBreakdown', () => {
  for (const [dropout, checkpoint] of [0, 0.2].flatMap((p) => CHECKPOINTING.map((c) => [p, c] as const))) {
    it(`predicts measureSaved of a GPT step to the byte for every method (dropout ${dropout}, checkpointing ${checkpoint})`, () => {
      const cfg: GptConfig = { vocab: 11, dim: 8, heads: 2, layers: 2, context: 6, dropout };
      const [b, s, r] = [3, 5, 2];
      const x = tensor(Int32Array.from({ length: b * s }, (_, i) => i % 11), { shape: [b, s] });
      const y = tensor(Int32Array.from({ length: b * s }, (_, i) => (3 * i + 1) % 11), { shape: [b, s] });
      for (const method of ['full', 'lora', 'lorafa', 'lorafb'] as const) {
        const measured = scope(() => {
          const model = buildModule(() => new GPT(cfg, { seed: 1 })).setCheckpointing(checkpoint);
          if (method !== 'full') applyAdapters(model, { method, rank: r, alpha: 4, seed: 3 });
          return measureForward(() => model.loss(x, y)).bytes;
        });
        const e = savedBreakdown(cfg, method, { batch: b, seq: s, rank: r, checkpoint });
        expect(measured, method).toBe(e.expected);
        expect(e.expected - e.analytic).toBe(e.corrections.reduce((n, c) => n + c.bytes, 0));
        expect(e.corrections.every((c) => c.why.length > 0)).toBe(true);
      }
    });
  }
});
