/**
 * Live WebGPU buffers return to their baseline: after 10 000 ops with backward inside scopes,
 * and where no backward ever runs — forward-only graphs, a side branch backward never reaches,
 * a scope whose function throws, and ops with hidden constants (add(x, 1), mean, maskedFill)
 * whose outputs are disposed by hand.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { graphReleaseCases } from '../helpers/graph-leak-cases.ts';
import { ops, randn, scope, type Tensor } from '../../src/index.ts';
import { skipReason, webgpu } from './gpu.ts';

describe.skipIf(!webgpu)(`WebGPU leaks ${skipReason}`, () => {
  const gpu = webgpu!;
  const live = () => gpu.memory().liveBuffers;
  let x: Tensor, W: Tensor, baseline = 0;

  beforeEach(() => {
    x = randn([4, 8], { device: 'webgpu', seed: 1 });
    W = randn([8, 8], { device: 'webgpu', seed: 2, requiresGrad: true });
    baseline = live();
  });

  afterEach(async () => {
    W.grad?.dispose();
    x.dispose();
    W.dispose();
    await gpu.sync();
  });

  it('returns to the baseline of live buffers after 10 000 ops inside scope()', async () => {
    const xg = randn([4, 8], { device: 'webgpu', seed: 3, requiresGrad: true });
    const start = live(), created = gpu.poolStats().created;
    for (let step = 0; step < 500; step++) {
      scope(() => {
        let h = xg;
        for (let i = 0; i < 4; i++) h = ops.tanh(ops.add(ops.matmul(h, W), 0.1)); // 3 ops per layer
        const loss = ops.mean(ops.softmax(h)); // 3 more (+ 1 grad seed); backward: ~13
        loss.backward();
        xg.grad!.dispose();
        W.grad!.dispose();
        xg.grad = W.grad = null;
      });
    }
    expect(gpu.ctx.counters.dispatches).toBeGreaterThan(10_000);
    expect(live()).toBe(start);
    expect(gpu.poolStats().created - created).toBeLessThan(40); // every step reuses the pool
    xg.dispose();
  });

  graphReleaseCases({ x: () => x, W: () => W, baseline: () => baseline, live, device: 'webgpu' });
});
