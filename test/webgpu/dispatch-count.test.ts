/**
 * The dispatches of one LoRA-FA layer training step on WebGPU, pinned (a regression — a pass
 * that comes back, an epilogue that stops fusing — changes the count). The layer is
 * nn.LoraFaLinear around a Linear with a bias, trained by AdamW:
 *   forward   3: X·A;  X·W + b (bias in the epilogue);  σ·(XA)·B + (X·W + b) (scale and sum in the epilogue)
 *   backward  2: (1/σ)·(XA)ᵀ·dY (1/σ in the epilogue);  cholSolve → B's closed-form gradient
 *           + 3 when x needs a gradient (a layer inside a model): dY·Bᵀ;  dY·Wᵀ;  σ·(dY·Bᵀ)·Aᵀ + dY·Wᵀ
 *   AdamW     1 (one fused update of B)
 * → 9 per step for an inner layer, 6 for a first layer. The same step before these kernels (the
 * same script on the previous main) took 18 and 12: separate full + mul passes for every scale,
 * an add pass for every sum and for the bias.
 * y.backward(dY) also copies the caller's dY once (the engine owns the gradients it hands on), a
 * dispatch of the call, not of the layer; a scalar loss's backward makes its seed the same way.
 */
import { describe, expect, it } from 'vitest';
import { optim, randn, scope } from '../../src/index.ts';
import { LoraFaLinear } from '../../src/lora/layers.ts';
import { Linear } from '../../src/nn/linear.ts';
import { skipReason, webgpu } from './gpu.ts';

const SEED_COPY = 1;

describe.skipIf(!webgpu)(`dispatches of one LoRA-FA layer training step ${skipReason}`, () => {
  const gpu = webgpu!;

  /** Counts of the 6th step (after 5 warm-up steps: pipelines compiled, pooled buffers settled). */
  function step(inner: boolean, dropout = 0) {
    const device = 'webgpu';
    const layer = new LoraFaLinear(new Linear(64, 48, { seed: 1, device }), { rank: 4, alpha: 8, dropout, seed: 2 });
    const opt = new optim.AdamW(layer.parameters().filter((p) => p.requiresGrad), { lr: 0.01 });
    const x = randn([32, 64], { seed: 3, device, requiresGrad: inner });
    const dY = randn([32, 48], { seed: 4, device });
    let counts = { forward: 0, backward: 0, optimizer: 0, submits: 0, bindGroups: 0 };
    for (let i = 0; i < 6; i++) {
      gpu.flush();
      const c0 = { ...gpu.counters };
      scope(() => {
        const y = layer.forward(x);
        const c1 = gpu.counters.dispatches;
        y.backward(dY);
        counts = { ...counts, forward: c1 - c0.dispatches, backward: gpu.counters.dispatches - c1 - SEED_COPY };
      });
      const c2 = gpu.counters.dispatches;
      opt.step();
      opt.zeroGrad();
      x.grad?.dispose();
      x.grad = null;
      counts = { ...counts, optimizer: gpu.counters.dispatches - c2, submits: gpu.counters.submits - c0.submits, bindGroups: gpu.counters.bindGroups - c0.bindGroups };
    }
    for (const t of [x, dY]) t.dispose();
    opt.dispose();
    layer.dispose();
    return counts;
  }

  it('an inner layer (x needs a gradient): 3 + 5 + 1 = 9 dispatches (18 before), no submit, no new bind group', () => {
    expect(step(true)).toEqual({ forward: 3, backward: 5, optimizer: 1, submits: 0, bindGroups: 0 });
  });

  it('a first layer (x needs none): 3 + 2 + 1 = 6 dispatches (12 before)', () => {
    expect(step(false)).toEqual({ forward: 3, backward: 2, optimizer: 1, submits: 0, bindGroups: 0 });
  });

  it('with adapter dropout: the mask in forward and again in backward, + 1 each', () => {
    expect(step(true, 0.1)).toMatchObject({ forward: 4, backward: 6, optimizer: 1 });
  });
});
