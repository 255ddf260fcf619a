/**
 * Live WebGPU buffers return to their baseline: after 10 000 ops with backward inside scopes,
 * and where no backward ever runs — forward-only graphs, a side branch backward never reaches,
 * a scope whose function throws, and ops with hidden constants (add(x, 1), mean, maskedFill)
 * whose outputs are disposed by hand. In float32, float16 and bfloat16: a 16-bit op's float32
 * scratch copies (withHalfPrecision) are freed before it returns, so an op adds exactly its
 * output's buffer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { graphReleaseCases } from '../helpers/graph-leak-cases.ts';
import { ops, randn, scope, type Tensor } from '../../src/index.ts';
import { skipReason, webgpu } from './gpu.ts';

describe.skipIf(!webgpu).each(['float32', 'float16', 'bfloat16'] as const)(`WebGPU leaks in %s ${skipReason}`, (dtype) => {
  const gpu = webgpu!;
  const live = () => gpu.memory().liveBuffers;
  let x: Tensor, W: Tensor, baseline = 0;

  beforeEach(() => {
    x = randn([4, 8], { device: 'webgpu', seed: 1, dtype });
    W = randn([8, 8], { device: 'webgpu', seed: 2, requiresGrad: true, dtype });
    baseline = live();
  });

  afterEach(async () => {
    W.grad?.dispose();
    x.dispose();
    W.dispose();
    await gpu.sync();
  });

  it('returns to the baseline of live buffers after 10 000 ops inside scope()', async () => {
    const xg = randn([4, 8], { device: 'webgpu', seed: 3, requiresGrad: true, dtype });
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

  it('adds exactly one buffer per op (its output) and one per gradient: no scratch copy outlives its kernel', () => {
    const y = ops.matmul(x, W); // saves x and W themselves
    expect(live() - baseline).toBe(1);
    const t = ops.tanh(y); // saves its output
    expect(live() - baseline).toBe(2);
    expect([y.dtype, t.dtype]).toEqual([dtype, dtype]);
    const loss = ops.sum(t);
    loss.backward(); // the seed and the saved tensors go with the graph; W.grad stays
    for (const u of [y, t, loss]) u.dispose();
    expect(W.grad!.dtype).toBe(dtype);
    expect(live() - baseline).toBe(1);
  });

  graphReleaseCases({ x: () => x, W: () => W, baseline: () => baseline, live, device: 'webgpu' });
});
