import { describe, expect, it } from 'vitest';
import { ops, tensor } from '../../src/index.ts';
import { alignedLayers, appliedAlignment, cosine, probeAlignment } from '../../src/lab/alignment.ts';
import { applyAdapters, type AdapterOptions } from '../../src/lora/adapters.ts';
import { buildModule } from '../../src/nn/module.ts';
import { GPT, type GptConfig } from '../../src/nn/transformer.ts';
import { SGD } from '../../src/optim/sgd.ts';

const cfg: GptConfig = { vocab: 9, dim: 6, heads: 2, layers: 1, context: 5 };
const batch = { x: tensor([[1, 2, 3, 4, 5], [8, 7, 6, 5, 4]], { dtype: 'int32' }), y: tensor([[2, 3, 4, 5, 6], [7, 6, 5, 4, 3]], { dtype: 'int32' }) };

function model(options?: AdapterOptions): GPT {
  const m = buildModule(() => new GPT(cfg, { seed: 2 }));
  if (options) applyAdapters(m, { seed: 7, ...options });
  else m.unfreeze();
  return m;
}

async function sgdCosines(options: AdapterOptions): Promise<{ path: string; sgd: number }[]> {
  return (await probeAlignment(model(options), batch)).layers.map(({ path, sgd }) => ({ path, sgd }));
}

/** One plain SGD step on the batch (up the loss with ascend), as the lab's step but without clipping or AdamW. */
function sgdStep(m: GPT, lr: number, ascend = false): void {
  const opt = new SGD(m.trainableParameters(), { lr });
  const loss = m.loss(batch.x, batch.y);
  (ascend ? ops.neg(loss) : loss).backward();
  opt.step();
  opt.zeroGrad();
}

describe('alignment: cos(−ΔW_SGD, G)', () => {
  it('is 1 for LoRA-FA\'s closed form when A spans everything (r = d: P_A = I), less without the correction', async () => {
    const c = await sgdCosines({ method: 'lorafa', rank: 6, alpha: 3, targets: ['q', 'k', 'v', 'o'] });
    expect(c.map((x) => x.path)).toEqual(['blocks.0.attn.q', 'blocks.0.attn.k', 'blocks.0.attn.v', 'blocks.0.attn.o']);
    for (const { sgd } of c) expect(sgd).toBeCloseTo(1, 4);
    const plain = await sgdCosines({ method: 'lorafa', rank: 6, alpha: 3, targets: ['q', 'k', 'v', 'o'], correction: 'none' });
    expect(plain.every((x) => x.sgd < 0.999)).toBe(true); // σ²·AAᵀ·G is not G unless AAᵀ ∝ I
  });

  it('never lets the uncorrected gradient beat the closed form at the same point (Theorem 4.1), per layer', async () => {
    const [closed, plain, lora] = await Promise.all([
      sgdCosines({ method: 'lorafa', rank: 2, alpha: 4 }),
      sgdCosines({ method: 'lorafa', rank: 2, alpha: 4, correction: 'none' }),
      sgdCosines({ method: 'lora', rank: 2, alpha: 4 }),
    ]);
    expect(closed.length).toBe(6);
    closed.forEach((c, i) => {
      expect(c.sgd, c.path).toBeGreaterThanOrEqual(plain[i]!.sgd - 1e-6);
      expect(c.sgd).toBeLessThanOrEqual(1 + 1e-6);
      // with B = 0, LoRA's first step moves only B: the same direction as uncorrected LoRA-FA
      expect(lora[i]!.sgd).toBeCloseTo(plain[i]!.sgd, 5);
    });
  });

  it('Full-FT: measures q, k, v, o, up, down, whose SGD direction is G itself', async () => {
    const m = model();
    expect(alignedLayers(m).map(([p]) => p)).toEqual(['attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp.up', 'mlp.down'].map((n) => `blocks.0.${n}`));
    for (const { sgd } of (await probeAlignment(m, batch)).layers) expect(sgd).toBeCloseTo(1, 6);
  });

  it('leaves the model as it found it: no gradients, no parameter change, forward restored', async () => {
    const m = model({ method: 'lorafb', rank: 2, alpha: 4, seed: 1 });
    const before = m.parameters().map((p) => [p.version, Array.from(p.dataSync())] as const);
    const probe = await probeAlignment(m, batch);
    expect(probe.layers.every((x) => x.sgd > -1 && x.sgd <= 1)).toBe(true);
    m.parameters().forEach((p, i) => {
      expect(p.grad).toBeNull();
      expect(p.version).toBe(before[i]![0]);
    });
    expect(Object.prototype.hasOwnProperty.call(m.blocks[0]!.attn.q, 'forward')).toBe(true); // the module-scope wrapper is back
    expect(Number.isFinite(m.loss(batch.x, batch.y).itemSync())).toBe(true);
  });
});

describe('alignment: cos(−ΔW_AdamW, G) of the applied update', () => {
  it('equals the SGD direction\'s cosine when the step is a plain SGD step (W_eff is linear in the trained factor)', async () => {
    for (const options of [{ method: 'lorafa', rank: 2, alpha: 4 }, { method: 'lorafb', rank: 2, alpha: 4 }, undefined] as const) {
      const m = model(options);
      const probe = await probeAlignment(m, batch);
      sgdStep(m, 0.05);
      const applied = await appliedAlignment(probe);
      expect(applied.length).toBe(probe.layers.length);
      applied.forEach((a, i) => expect(a, `${options?.method ?? 'full'} ${probe.layers[i]!.path}`).toBeCloseTo(probe.layers[i]!.sgd, 4));
    }
  });

  it('is NaN for a layer the step did not change, and changes sign for a step up the loss', async () => {
    const m = model({ method: 'lorafa', rank: 2, alpha: 4 });
    const probe = await probeAlignment(m, batch);
    expect((await appliedAlignment(probe)).every(Number.isNaN)).toBe(true);
    sgdStep(m, 0.05, true);
    for (const [i, a] of (await appliedAlignment(probe)).entries()) expect(a).toBeCloseTo(-probe.layers[i]!.sgd, 4);
    expect(cosine([1, 0], [0, 0])).toBeNaN();
    expect(cosine([1, 1], [2, 2])).toBeCloseTo(1, 15);
  });
});
