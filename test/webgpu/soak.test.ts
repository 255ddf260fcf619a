/**
 * Soak: thousands of LoRA-FA training steps (forward, backward with the closed-form gradient,
 * AdamW) on the CPU and on WebGPU. After the first step has made the optimizer state, the
 * allocation counters, the saved bytes and (on WebGPU) the GPU memory stay exactly flat.
 */
import { describe, expect, it } from 'vitest';
import { getBackend, noGrad, optim, randn, savedStats, scope, type Backend, type Device, type Tensor } from '../../src/index.ts';
import { LoraFaLinear } from '../../src/lora/layers.ts';
import { Linear } from '../../src/nn/linear.ts';
import { skipReason, webgpu } from './gpu.ts';

/** Trains a LoRA-FA layer for `steps` steps; returns the live counts after step 1 and at the end, and the losses. */
async function soak(device: Device, backend: Backend, steps: number): Promise<{ first: unknown; last: unknown; losses: number[] }> {
  const layer = new LoraFaLinear(new Linear(32, 24, { seed: 1, device }), { rank: 4, alpha: 8, dropout: 0.1, seed: 2 });
  // the teacher: the base layer plus a change within col(A), which LoRA-FA can learn exactly
  const M = randn([4, 24], { seed: 3, device });
  const teacher = (x: Tensor) => noGrad(() => layer.base.forward(x).add(x.matmul(layer.A).matmul(M)));
  const opt = new optim.AdamW(layer.parameters().filter((p) => p.requiresGrad), { lr: 0.01 });
  const counts = () => ({ ...backend.memory(), peakBytes: 0, saved: savedStats().liveBytes });
  let first: unknown = null;
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = scope(() => {
      const x = randn([16, 32], { seed: 100 + step, device });
      const l = layer.forward(x).sub(teacher(x)).pow(2).mean();
      l.backward();
      return l;
    });
    opt.step();
    opt.zeroGrad();
    if (step % 250 === 0 || step === steps - 1) losses.push(await loss.item()); // the only read-backs
    loss.dispose();
    if (step === 0) first = counts();
  }
  const last = counts();
  opt.dispose();
  layer.dispose();
  M.dispose();
  return { first, last, losses };
}

describe('soak: thousands of LoRA-FA steps', () => {
  it('on the CPU: 3000 steps, allocation and saved-byte counters flat, the loss falls', async () => {
    const { first, last, losses } = await soak('cpu', getBackend('cpu'), 3000);
    expect(last).toEqual(first);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
  });

  it.skipIf(!webgpu)(`on WebGPU: 2000 steps, allocation counters and GPU memory flat, the loss falls ${skipReason}`, async () => {
    const gpu = webgpu!;
    const before = gpu.poolStats().allocatedBytes;
    const { first, last, losses } = await soak('webgpu', gpu, 2000);
    expect(last).toEqual(first);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    // every buffer the run made is back in the pool: the pool grew by at most the run's working set, once
    expect(gpu.poolStats().allocatedBytes - before).toBeLessThan(1 << 20);
  });
});
