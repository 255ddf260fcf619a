/**
 * Live CPU buffers and the WebAssembly heap return to their baseline on every tier: after 10 000
 * ops with backward inside scopes (the heap's memory no larger after the first step: every later
 * step reuses pooled blocks), and where no backward ever runs — forward-only graphs, a side branch
 * backward never reaches, a scope whose function throws, and ops with hidden constants whose
 * outputs are disposed by hand. (The WebGPU backend's own: test/webgpu/leaks.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cpuInfo, getBackend, initCpu, ops, randn, scope, tensor, type Tensor } from '../../src/index.ts';
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

  it('frees forward-only graphs (x·W with W requiring grad, no backward) at the end of each scope', () => {
    for (let step = 0; step < 50; step++) {
      scope(() => {
        const y = ops.tanh(ops.matmul(x, W)); // matmul saves x and W, tanh its output
        expect(y.requiresGrad).toBe(true);
        ops.sum(ops.mul(y, y));
      });
    }
    expect(live()).toEqual(baseline);
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
    expect(live()).toEqual(baseline);
  });

  it('frees what a throwing scope created, graphs included', () => {
    expect(() => scope(() => {
      ops.tanh(ops.matmul(x, W));
      throw new Error('boom');
    })).toThrow('boom');
    expect(live()).toEqual(baseline);
  });

  it('frees the hidden constants of add(x, 1), mean and maskedFill once their outputs are disposed', () => {
    const mask = tensor([[1, 0, 0, 1, 0, 0, 0, 1]]);
    const withMask = live();
    for (const input of [x, W]) { // without and with a graph
      const outputs = [ops.add(input, 1), ops.mean(input), ops.mean(input, 1), ops.maskedFill(input, mask, -1)];
      for (const t of outputs) t.dispose();
      expect(live(), input === W ? 'inputs requiring grad' : 'inputs without grad').toEqual(withMask);
    }
    mask.dispose();
    expect(live()).toEqual(baseline);
  });
});
