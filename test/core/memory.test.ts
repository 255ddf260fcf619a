/**
 * The CPU allocation tracker. Its own file (its own process): every tensor here stays
 * referenced or is disposed, so no finalizer can release storage between two readings.
 */
import { describe, expect, it } from 'vitest';
import { getBackend, ops, randn, savedStats, scope } from '../../src/index.ts';

describe('CPU allocation tracker', () => {
  it('a forward and backward inside scope() returns to the baseline plus the kept gradients', () => {
    const cpu = getBackend('cpu');
    const x = randn([16, 8], { seed: 1, requiresGrad: true });
    const W = randn([8, 4], { seed: 2, parameter: true, requiresGrad: true });
    const before = cpu.memory();
    cpu.resetPeak();
    scope(() => {
      const h = ops.gelu(ops.matmul(x, W));
      const loss = ops.mean(ops.mul(ops.softmax(h), ops.layerNorm(h)));
      loss.backward();
    });
    const after = cpu.memory();
    expect(after.liveBytes).toBe(before.liveBytes + (16 * 8 + 8 * 4) * 4); // x.grad and W.grad
    expect(after.liveBuffers).toBe(before.liveBuffers + 2);
    expect(after.peakBytes).toBeGreaterThan(after.liveBytes);
    expect(savedStats().liveBytes).toBe(0);
    x.grad!.dispose();
    W.grad!.dispose();
    expect(cpu.memory().liveBytes).toBe(before.liveBytes);
  });

  it('a graph dropped without backward frees its saved storage when scope disposes its tensors', () => {
    const cpu = getBackend('cpu');
    const x = randn([8, 8], { seed: 3, requiresGrad: true });
    const before = cpu.memory().liveBytes;
    const y = scope(() => ops.exp(ops.tanh(x)).sum());
    // y and the two saved outputs of tanh and exp remain until the graph is released
    expect(cpu.memory().liveBytes).toBe(before + 4 + 2 * 8 * 8 * 4);
    y.backward();
    y.dispose();
    x.grad!.dispose();
    expect(cpu.memory().liveBytes).toBe(before);
  });
});
