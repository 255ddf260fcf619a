import { describe, expect, it } from 'vitest';
import { LorafaError, scope, tensor } from '../../src/index.ts';
import { AdamW, SGD, clipGradNorm, warmupCosine } from '../../src/optim/index.ts';
import { expectClose } from '../helpers/allclose.ts';

/** A float64 parameter [value] that requires grad. */
const param = (...values: number[]) => tensor(values, { dtype: 'float64', requiresGrad: true, parameter: true });
const setGrad = (p: ReturnType<typeof param>, ...values: number[]) => {
  p.grad?.dispose();
  p.grad = tensor(values, { dtype: 'float64' });
};

describe('AdamW', () => {
  it('matches steps computed by hand (decoupled decay, bias correction)', () => {
    // lr 0.1, β (0.9, 0.999), ε 1e-8, λ 0.01, p₀ = 1.
    // step 1, g = 0.5:  p = 1·(1 − 0.001) = 0.999; m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25;
    //                   p = 0.999 − 0.1·0.5/(0.5 + 1e-8) = 0.899000002
    // step 2, g = −0.25: p = 0.899000002·0.999; m = 0.02, v = 0.00031225; m̂ = 0.02/0.19, v̂ = 0.00031225/0.001999;
    //                   p = 0.898101002 − 0.1·m̂/(√v̂ + ε) = 0.8714672987058463
    // step 3, g = 1:    0.804784672376384 (the same recurrence)
    const p = param(1);
    const opt = new AdamW([p], { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 });
    const expected = [0.899000002, 0.8714672987058463, 0.804784672376384];
    [0.5, -0.25, 1].forEach((g, i) => {
      setGrad(p, g);
      opt.step();
      expectClose(p.dataSync(), [expected[i]!], { atol: 1e-15, rtol: 1e-13 });
    });
    expect(opt.stateBytes()).toBe(2 * 8);
  });

  it('bumps the version of each parameter it changes and skips parameters without a gradient', () => {
    const a = param(1, 2), b = param(3);
    const opt = new AdamW([a, b], { lr: 0.1 });
    setGrad(a, 1, 1);
    const [va, vb] = [a.version, b.version];
    opt.step();
    expect(a.version).toBe(va + 1);
    expect(b.version).toBe(vb);
    expectClose(b.dataSync(), [3]);
  });

  it('keeps its state across scopes and frees it on dispose', () => {
    const p = param(1);
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0 });
    scope(() => {
      setGrad(p, 1);
      opt.step();
    });
    setGrad(p, 1);
    opt.step(); // the moment buffers made inside the first scope are still alive
    expect(opt.stateBytes()).toBe(16);
    opt.dispose();
    expect(opt.stateBytes()).toBe(0);
  });

  it('rejects bad betas, a negative lr, eps or weight decay, and parameters that cannot be trained', () => {
    expect(() => new AdamW([param(1)], { betas: [1, 0.999] })).toThrow(/AdamW: betas \[1, 0.999\]/);
    expect(() => new AdamW([param(1)], { lr: -1 })).toThrow(/AdamW: lr = -1/);
    for (const [key, value] of [['eps', -1e-8], ['eps', NaN], ['weightDecay', -0.01], ['weightDecay', Infinity]] as const) {
      expect(() => new AdamW([param(1)], { [key]: value })).toThrow(LorafaError);
      expect(() => new AdamW([param(1)], { [key]: value })).toThrow(new RegExp(`AdamW: ${key} = ${value}; expected a finite number ≥ 0`));
    }
    expect(new AdamW([param(1)], { eps: 0, weightDecay: 0 }).eps).toBe(0);
    const frozen = tensor([1], { dtype: 'float64' });
    frozen.name = 'w';
    expect(() => new AdamW([frozen])).toThrow(LorafaError);
    expect(() => new AdamW([frozen])).toThrow(/parameter 'w' \(float64, requiresGrad false\)/);
  });
});

describe('SGD', () => {
  it('matches hand-computed steps with momentum and weight decay', () => {
    // lr 0.1, μ 0.9, λ 0.1, p₀ = 1, g = 0.5 twice:
    // step 1: d = 0.5 + 0.1·1 = 0.6, buf = 0.6, p = 1 − 0.06 = 0.94
    // step 2: d = 0.5 + 0.094 = 0.594, buf = 0.9·0.6 + 0.594 = 1.134, p = 0.94 − 0.1134 = 0.8266
    const p = param(1);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.1 });
    for (const want of [0.94, 0.8266]) {
      setGrad(p, 0.5);
      opt.step();
      expectClose(p.dataSync(), [want], { atol: 1e-15 });
    }
  });

  it('applies the Nesterov look-ahead and plain SGD', () => {
    // Nesterov step 1: d = 0.6, buf = 0.6, d = 0.6 + 0.9·0.6 = 1.14, p = 1 − 0.114 = 0.886
    const p = param(1);
    const nesterov = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.1, nesterov: true });
    setGrad(p, 0.5);
    nesterov.step();
    expectClose(p.dataSync(), [0.886], { atol: 1e-15 });
    // plain: p = 2 − 0.5·(−1) = 2.5
    const q = param(2);
    setGrad(q, -1);
    new SGD([q], { lr: 0.5 }).step();
    expectClose(q.dataSync(), [2.5]);
  });

  it('rejects nesterov without momentum, momentum out of range and a negative or non-finite weight decay', () => {
    expect(() => new SGD([param(1)], { nesterov: true })).toThrow(/SGD: nesterov needs momentum > 0/);
    expect(() => new SGD([param(1)], { momentum: 1 })).toThrow(/SGD: momentum = 1/);
    expect(() => new SGD([param(1)], { weightDecay: -1 })).toThrow(/SGD: weightDecay = -1; expected a finite number ≥ 0/);
    expect(() => new SGD([param(1)], { weightDecay: NaN })).toThrow(/SGD: weightDecay = NaN/);
  });
});

describe('clipGradNorm', () => {
  it('scales all gradients by maxNorm / total norm when the norm is larger', () => {
    const a = param(0, 0), b = param(0);
    setGrad(a, 3, 4);
    setGrad(b, 12); // total norm √(9 + 16 + 144) = 13
    const norm = clipGradNorm([a, b], 6.5)!;
    expect(norm.itemSync()).toBeCloseTo(13, 12);
    const coef = 6.5 / (13 + 1e-6);
    expectClose(a.grad!.dataSync(), [3 * coef, 4 * coef], { atol: 1e-14 });
    expectClose(b.grad!.dataSync(), [12 * coef], { atol: 1e-14 });
  });

  it('leaves gradients under the limit unchanged, skips missing ones, and returns null when none exist', () => {
    const a = param(0, 0), b = param(0);
    setGrad(a, 3, 4);
    expect(clipGradNorm([a, b], 10)!.itemSync()).toBeCloseTo(5, 12);
    expectClose(a.grad!.dataSync(), [3, 4]);
    expect(clipGradNorm([b], 1)).toBeNull();
    expect(() => clipGradNorm([a], 0)).toThrow(/clipGradNorm: maxNorm = 0/);
  });
});

describe('warmupCosine', () => {
  it('warms up linearly, then follows the half cosine down to minLr', () => {
    const lr = warmupCosine({ lr: 1, warmupSteps: 2, totalSteps: 6, minLr: 0.1 });
    // t = 3: 0.1 + 0.9·½·(1 + cos(π/4)); t = 4: cos(π/2) = 0 → 0.55; t = 5: 0.1 + 0.45·(1 − cos(π/4))
    const want = [0.5, 1, 1, 0.1 + 0.45 * (1 + Math.SQRT1_2), 0.55, 0.1 + 0.45 * (1 - Math.SQRT1_2), 0.1, 0.1];
    expectClose([0, 1, 2, 3, 4, 5, 6, 7].map(lr), want, { atol: 1e-15 });
    const oneStep = warmupCosine({ lr: 0.3, warmupSteps: 0, totalSteps: 1, minLr: 0.03 }); // no warm-up: the peak at once
    expectClose([oneStep(0), oneStep(1)], [0.3, 0.03], { atol: 1e-15 });
  });

  it('rejects inconsistent step counts and rates', () => {
    expect(() => warmupCosine({ lr: 1, warmupSteps: 5, totalSteps: 5 })).toThrow(/warmupCosine: warmupSteps 5 and totalSteps 5/);
    expect(() => warmupCosine({ lr: Infinity, warmupSteps: 0, totalSteps: 5 })).toThrow('warmupCosine: lr Infinity and minLr 0; expected finite lr ≥ minLr ≥ 0');
    expect(() => warmupCosine({ lr: 0.1, warmupSteps: 0, totalSteps: 5, minLr: 0.2 })).toThrow(/expected finite lr ≥ minLr ≥ 0/);
    expect(() => warmupCosine({ lr: 0.1, warmupSteps: 0, totalSteps: 5, minLr: 1 })).toThrow(/warmupCosine: lr 0.1 and minLr 1/);
  });
});

describe('parameter groups (PyTorch semantics)', () => {
  it('SGD: each group steps with its own lr, momentum and weight decay; omitted keys take the defaults', () => {
    // group 0: lr 0.1 (default), μ 0; group 1: lr 0.4, λ 0.5 → p = 2 − 0.4·(1 + 0.5·2) = 1.2
    const a = param(1), b = param(2);
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.4, weightDecay: 0.5 }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => [g.lr, g.momentum, g.weightDecay, g.nesterov])).toEqual([[0.1, 0, 0, false], [0.4, 0, 0.5, false]]);
    expect(opt.params).toEqual([a, b]);
    setGrad(a, 1);
    setGrad(b, 1);
    opt.step();
    expectClose(a.dataSync(), [0.9], { atol: 1e-15 });
    expectClose(b.dataSync(), [1.2], { atol: 1e-15 });
  });

  it('AdamW: from zero state the first step of each group is −lr_group·g/(|g| + ε) after its own decay', () => {
    const a = param(1, -1), b = param(3);
    const opt = new AdamW([{ params: [a], weightDecay: 0 }, { params: [b], lr: 0.05, betas: [0.5, 0.9] }], { lr: 0.01, eps: 0 });
    setGrad(a, 2, -0.5);
    setGrad(b, -4);
    opt.step();
    expectClose(a.dataSync(), [1 - 0.01, -1 + 0.01], { atol: 1e-15 });
    expectClose(b.dataSync(), [3 * (1 - 0.05 * 0.01) + 0.05], { atol: 1e-15 });
  });

  it('setting lr (a schedule) keeps every group in its constructed ratio to the base', () => {
    const a = param(1), b = param(1);
    const opt = new AdamW([{ params: [a] }, { params: [b], lr: 16e-3 }], { lr: 1e-3 });
    opt.lr = 0.5e-3;
    expect(opt.lr).toBe(0.5e-3);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.5e-3, 8e-3]);
    const plain = new SGD([a], { lr: 0.1 });
    plain.lr = 0.3;
    expect(plain.paramGroups[0]!.lr).toBe(0.3);
  });

  it('rejects bad groups with errors naming the group', () => {
    const a = param(1), b = param(2);
    expect(() => new SGD([a, { params: [b] }] as never)).toThrow(/SGD: params mixes tensors and parameter groups/);
    expect(() => new SGD([{ params: [a] }, { params: [a, b] }])).toThrow(/SGD: parameter '\(unnamed\)' is in group 0 and group 1; expected each parameter in one group/);
    expect(() => new SGD([{ params: [a], lrr: 1 } as never])).toThrow(/SGD: group 0 has unknown keys lrr; expected some of params, lr, momentum, weightDecay, nesterov/);
    expect(() => new SGD([{ params: [a] }, { params: [b], lr: -1 }])).toThrow(/SGD: group 1: lr = -1; expected a finite non-negative number/);
    expect(() => new SGD([{ params: [a], nesterov: true }])).toThrow(/SGD: group 0: nesterov needs momentum > 0/);
    expect(() => new AdamW([{ params: [a], betas: [0.9, 1] }])).toThrow(/AdamW: group 0: betas \[0.9, 1\] are out of range/);
    expect(() => new AdamW([{ params: [a], eps: -1 }])).toThrow(/AdamW: group 0: eps = -1; expected a finite number ≥ 0/);
    expect(() => new AdamW([{ params: [1] } as never])).toThrow(/AdamW: group 0: params holds number; expected tensors/);
    expect(() => new AdamW([{ nope: [a] } as never])).toThrow(/AdamW: group 0 is an object with keys \[nope\]; expected \{ params, \.\.\.hyper-parameters \}/);
    const zeroBase = new SGD([{ params: [a] }, { params: [b], lr: 0.1 }], { lr: 0 });
    expect(() => (zeroBase.lr = 0.1)).toThrow(/SGD: group 1 has lr 0.1 while the base lr was 0 at construction/);
    expect(() => (new SGD([a]).lr = NaN)).toThrow(/SGD: lr = NaN; expected a finite non-negative number/);
  });
});
