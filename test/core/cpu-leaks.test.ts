/**
 * Live CPU buffers and the WebAssembly heap return to their baseline on every tier: after 10 000
 * ops with backward inside scopes (the heap's memory no larger after the first step: every later
 * step reuses pooled blocks), and where no backward ever runs — forward-only graphs, a side branch
 * backward never reaches, a scope whose function throws, and ops with hidden constants whose
 * outputs are disposed by hand. (The WebGPU backend's own: test/webgpu/leaks.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { graphReleaseCases } from '../helpers/graph-leak-cases.ts';
import { cpuInfo, getBackend, initCpu, ops, randn, scope, type Tensor } from '../../src/index.ts';
import { CPU_TIERS } from '../helpers/cpu-tiers.ts';

const cpu = getBackend('cpu');

describe.each(CPU_TIERS)('CPU leaks on the $label tier', ({ options }) => {
  /** Live storages, and the heap's live blocks (0 on the JavaScript tier, which keeps none there). */
  const live = () => ({ buffers: cpu.memory().liveBuffers, heapBlocks: options.tier === 'wasm' ? cpuInfo().heap!.liveBlocks : 0 });
  let x: Tensor, W: Tensor, baseline = live();

  beforeEach(async () => {
    await initCpu(options);
    x = randn([4, 8], { seed: 1 });
    W = randn([8, 8], { seed: 2, requiresGrad: true });
    ops.matmul(x, W).dispose(); // per-thread packing scratch, allocated once
    baseline = live();
  });

  afterEach(() => {
    W.grad?.dispose();
    x.dispose();
    W.dispose();
  });

  it('returns to the baseline after 10 000 ops inside scope(), the heap no larger after the first step', () => {
    const xg = randn([4, 8], { seed: 3, requiresGrad: true });
    const start = live();
    let memoryBytes = 0;
    for (let step = 0; step < 500; step++) {
      scope(() => {
        let h = xg;
        for (let i = 0; i < 4; i++) h = ops.tanh(ops.add(ops.matmul(h, W), 0.1)); // 3 ops per layer
        ops.mean(ops.softmax(h)).backward(); // 3 more (+ 1 grad seed); backward: ~13
        xg.grad!.dispose();
        W.grad!.dispose();
        xg.grad = W.grad = null;
      });
      if (step === 0) memoryBytes = cpuInfo().heap?.memoryBytes ?? 0;
    }
    expect(live()).toEqual(start);
    expect(cpuInfo().heap?.memoryBytes ?? 0).toBe(memoryBytes);
    xg.dispose();
  });

  graphReleaseCases({ x: () => x, W: () => W, baseline: () => baseline, live, device: 'cpu' });
});
