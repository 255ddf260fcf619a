/**
 * Live WebGPU buffers return to their baseline: after 10 000 ops with backward inside scopes,
 * and where no backward ever runs — forward-only graphs, a side branch backward never reaches,
 * a scope whose function throws, and ops with hidden constants (add(x, 1), mean, maskedFill)
 * whose outputs are disposed by hand.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ops, randn, scope, tensor, type Tensor } from '../../src/index.ts';
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

  it('frees forward-only graphs (x·W with W requiring grad, no backward) at the end of each scope', () => {
    for (let step = 0; step < 50; step++) {
      scope(() => {
        const y = ops.tanh(ops.matmul(x, W)); // matmul saves x and W, tanh its output
        expect(y.requiresGrad).toBe(true);
        ops.sum(ops.mul(y, y));
      });
    }
    expect(live()).toBe(baseline);
  });

  it('frees a side branch that backward never reaches', () => {
    scope(() => {
      const h = ops.matmul(x, W);
      ops.exp(ops.mul(h, 2)); // saves its output; no gradient ever flows through it
      ops.sum(ops.tanh(h)).backward();
    });
    expect(W.grad).not.toBeNull();
    W.grad!.dispose();
    W.grad = null;
    expect(live()).toBe(baseline);
  });

  it('frees what a throwing scope created, graphs included', () => {
    expect(() => scope(() => {
      ops.tanh(ops.matmul(x, W));
      throw new Error('boom');
    })).toThrow('boom');
    expect(live()).toBe(baseline);
  });

  it('frees the hidden constants of add(x, 1), mean and maskedFill once their outputs are disposed', () => {
    const mask = tensor([[1, 0, 0, 1, 0, 0, 0, 1]], { device: 'webgpu' });
    const withMask = live();
    for (const input of [x, W]) { // without and with a graph
      const outputs = [ops.add(input, 1), ops.mean(input), ops.mean(input, 1), ops.maskedFill(input, mask, -1)];
      for (const t of outputs) t.dispose();
      expect(live(), input === W ? 'inputs requiring grad' : 'inputs without grad').toBe(withMask);
    }
    mask.dispose();
    expect(live()).toBe(baseline);
  });
});
