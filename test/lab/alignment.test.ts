import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/index.ts';
import { updateAlignment } from '../../src/lab/alignment.ts';
import { applyAdapters, type AdapterOptions } from '../../src/nn/adapters.ts';
import { buildModule } from '../../src/nn/module.ts';
import { GPT, type GptConfig } from '../../src/nn/transformer.ts';

const cfg: GptConfig = { vocab: 9, dim: 6, heads: 2, layers: 1, context: 5 };
const batch = { x: tensor([[1, 2, 3, 4, 5], [8, 7, 6, 5, 4]], { dtype: 'int32' }), y: tensor([[2, 3, 4, 5, 6], [7, 6, 5, 4, 3]], { dtype: 'int32' }) };

async function cosines(options: AdapterOptions): Promise<{ path: string; cosine: number }[]> {
  const model = buildModule(() => new GPT(cfg, { seed: 2 }));
  applyAdapters(model, { seed: 7, ...options });
  return updateAlignment(model, batch);
}

describe('updateAlignment', () => {
  it('gives cos = 1 for LoRA-FA\'s closed form when A spans everything (r = d: P_A = I)', async () => {
    const c = await cosines({ method: 'lorafa', rank: 6, alpha: 3, targets: ['q', 'k', 'v', 'o'] });
    expect(c.map((x) => x.path)).toEqual(['blocks.0.attn.q', 'blocks.0.attn.k', 'blocks.0.attn.v', 'blocks.0.attn.o']);
    for (const { cosine } of c) expect(cosine).toBeCloseTo(1, 4);
    const plain = await cosines({ method: 'lorafa', rank: 6, alpha: 3, targets: ['q', 'k', 'v', 'o'], correction: 'none' });
    expect(plain.every((x) => x.cosine < 0.999)).toBe(true); // σ²·AAᵀ·G is not G unless AAᵀ ∝ I
  });

  it('never lets the uncorrected gradient beat the closed form at the same point (Theorem 4.1), per layer', async () => {
    const [closed, plain, lora] = await Promise.all([
      cosines({ method: 'lorafa', rank: 2, alpha: 4 }),
      cosines({ method: 'lorafa', rank: 2, alpha: 4, correction: 'none' }),
      cosines({ method: 'lora', rank: 2, alpha: 4 }),
    ]);
    expect(closed.length).toBe(6);
    closed.forEach((c, i) => {
      expect(c.cosine, c.path).toBeGreaterThanOrEqual(plain[i]!.cosine - 1e-6);
      expect(c.cosine).toBeLessThanOrEqual(1 + 1e-6);
      // with B = 0, LoRA's first step moves only B: the same direction as uncorrected LoRA-FA
      expect(lora[i]!.cosine).toBeCloseTo(plain[i]!.cosine, 5);
    });
  });

  it('leaves the model as it found it: no gradients, no parameter change, forward restored', async () => {
    const model = buildModule(() => new GPT(cfg, { seed: 2 }));
    applyAdapters(model, { method: 'lorafb', rank: 2, alpha: 4, seed: 1 });
    const before = model.parameters().map((p) => [p.version, Array.from(p.dataSync())] as const);
    const c = await updateAlignment(model, batch);
    expect(c.every((x) => x.cosine > -1 && x.cosine <= 1)).toBe(true);
    model.parameters().forEach((p, i) => {
      expect(p.grad).toBeNull();
      expect(p.version).toBe(before[i]![0]);
    });
    expect(Object.prototype.hasOwnProperty.call(model.blocks[0]!.attn.q, 'forward')).toBe(true); // the module-scope wrapper is back
    const loss = model.loss(batch.x, batch.y).itemSync();
    expect(Number.isFinite(loss)).toBe(true);
  });
});
