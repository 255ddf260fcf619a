/** The LoRA-family layers: parameters, inits, forward, merge/unmerge, dropout mode, and bad options. */
import { describe, expect, it } from 'vitest';
import { LorafaError, measureSaved, noGrad, ops, randn, tensor, type Tensor } from '../../src/index.ts';
import { Linear } from '../../src/nn/linear.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear, type LoraLayerOptions } from '../../src/lora/layers.ts';
import { loraFactorStats } from '../../src/lora/factor-cache.ts';
import { initFactor, randomStream } from '../../src/lora/init.ts';
import { expectClose } from '../helpers/allclose.ts';

const d = 12, o = 7, r = 3;
const f64 = { dtype: 'float64' as const };
const base = (seed = 1) => new Linear(d, o, { ...f64, seed });
const x = randn([5, d], { ...f64, seed: 9 });
const LAYERS = { LoraLinear, LoraFaLinear, LoraFbLinear } as const;

/** Σ over columns (axis 'columns') or rows of t² / count: the mean squared vector norm. */
function meanSquaredNorm(t: Tensor, side: 'columns' | 'rows'): number {
  const [rows, cols] = t.shape as [number, number];
  const v = Array.from(t.dataSync());
  return v.reduce((s, x) => s + x * x, 0) / (side === 'columns' ? cols : rows);
}

describe('parameters', () => {
  it('registers base (frozen), lora_A [d, r] and lora_B [r, o]; trainable counts r·(d + o), r·o, d·r', () => {
    const expected = { LoraLinear: r * (d + o), LoraFaLinear: r * o, LoraFbLinear: d * r };
    for (const [name, Layer] of Object.entries(LAYERS)) {
      const layer = new Layer(base(), { rank: r, alpha: 6 });
      expect(layer.namedParameters().map(([n, t]) => [n, t.shape, t.requiresGrad])).toEqual([
        ['lora_A', [d, r], name !== 'LoraFaLinear'],
        ['lora_B', [r, o], name !== 'LoraFbLinear'],
        ['base.weight', [d, o], false],
        ['base.bias', [o], false],
      ]);
      expect(layer.numParameters({ trainable: true })).toBe(expected[name as keyof typeof expected]);
      expect([layer.rank, layer.alpha, layer.scale]).toEqual([r, 6, 2]);
    }
  });

  it('gradients reach only the trained factor', () => {
    for (const Layer of Object.values(LAYERS)) {
      const layer = new Layer(base(), { rank: r, alpha: 6, seed: 2 });
      layer.forward(x).sum().backward();
      expect([layer.A.grad !== null, layer.B.grad !== null, layer.base.weight.grad]).toEqual([Layer !== LoraFaLinear, Layer !== LoraFbLinear, null]);
    }
  });
});

describe('init', () => {
  it('starts at ΔW = 0: every layer first computes what its base computes', () => {
    const y0 = noGrad(() => base().forward(x)).dataSync();
    for (const Layer of Object.values(LAYERS)) expect(noGrad(() => new Layer(base(), { rank: r, alpha: 6 }).forward(x)).dataSync()).toEqual(y0);
  });

  it('the random factor has unit expected vector norms for gaussian, uniform, orthogonal; the other is zeros', () => {
    const big = new Linear(256, 64, { seed: 3 });
    for (const init of ['gaussian', 'uniform', 'orthogonal'] as const) {
      const fa = new LoraFaLinear(big, { rank: 16, alpha: 16, initA: init, seed: 4 });
      expect(meanSquaredNorm(fa.A, 'columns')).toBeCloseTo(1, init === 'orthogonal' ? 5 : 0);
      expect(fa.B.dataSync().every((v) => v === 0)).toBe(true);
      const fb = new LoraFbLinear(new Linear(256, 64, { seed: 3 }), { rank: 16, alpha: 16, initB: init, seed: 4 });
      expect(meanSquaredNorm(fb.B, 'rows')).toBeCloseTo(1, init === 'orthogonal' ? 5 : 0);
      expect(fb.A.dataSync().every((v) => v === 0)).toBe(true);
    }
    const uniform = new LoraLinear(new Linear(256, 64), { rank: 16, alpha: 16, initA: 'uniform', seed: 4 }).A.dataSync();
    expect(Math.max(...uniform.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(3 / 256));
  });

  it('orthogonal: AᵀA = I (LoRA-FA) and BBᵀ = I (LoRA-FB)', () => {
    const A = new LoraFaLinear(base(), { rank: r, alpha: 1, initA: 'orthogonal', seed: 5 }).A;
    expectClose(ops.matmul(A, A, { transA: true }).dataSync(), [1, 0, 0, 0, 1, 0, 0, 0, 1], { atol: 1e-12 });
    const B = new LoraFbLinear(base(), { rank: r, alpha: 1, initB: 'orthogonal', seed: 5 }).B;
    expectClose(ops.matmul(B, B, { transB: true }).dataSync(), [1, 0, 0, 0, 1, 0, 0, 0, 1], { atol: 1e-12 });
  });

  it('initFactor refuses an unknown init and an orthogonal init with more vectors than their length', () => {
    expect(() => initFactor('t', 'xavier' as never, 4, 2, 'columns', randomStream('t', 1))).toThrow(/t: init 'xavier' is unknown/);
    expect(() => initFactor('t', 'orthogonal', 2, 3, 'columns', randomStream('t', 1))).toThrow(/t: an orthogonal init needs r ≤ n, got 3 vectors of length 2/);
  });

  it('a seed makes the factors reproducible; without one the global generator gives new ones', () => {
    const a = (seed?: number) => new LoraLinear(base(), { rank: r, alpha: 1, seed }).A.dataSync();
    expect(a(7)).toEqual(a(7));
    expect(a(7)).not.toEqual(a(8));
    expect(a()).not.toEqual(a());
  });
});

describe('forward, merge, dropout', () => {
  const trained = (Layer: (typeof LAYERS)[keyof typeof LAYERS], options: Partial<LoraLayerOptions> = {}) => {
    const layer = new Layer(base(), { rank: r, alpha: 6, seed: 2, ...options });
    const zero = Layer === LoraFbLinear ? layer.A : layer.B;
    zero.assign(randn(zero.shape, { ...f64, seed: 3 })); // as after some training
    return layer;
  };

  it('forward = ops.<method>(x, W, A, B, { scale: α/r, bias }) exactly, = the op + bias to rounding', () => {
    const ops3 = [ops.lora, ops.loraFA, ops.loraFB] as const;
    Object.values(LAYERS).forEach((Layer, i) => {
      const layer = trained(Layer);
      const bias = layer.base.bias!;
      const fused = ops3[i]!(x, layer.base.weight, layer.A, layer.B, { scale: 2, bias });
      expectClose(layer.forward(x).dataSync(), fused.dataSync(), { atol: 0, rtol: 0 });
      const added = ops.add(ops3[i]!(x, layer.base.weight, layer.A, layer.B, { scale: 2 }), bias); // (XW + σXAB) + b vs (XW + b) + σXAB
      expectClose(fused.dataSync(), added.dataSync(), { atol: 1e-14, rtol: 1e-14 });
    });
  });

  it('merge() folds σAB into W in place (version bumped), unmerge() takes it out; both refuse to repeat', () => {
    for (const Layer of Object.values(LAYERS)) {
      const layer = trained(Layer);
      const W0 = layer.base.weight.dataSync(), v0 = layer.base.weight.version;
      const y = layer.forward(x).dataSync();
      layer.merge();
      expect(layer.merged).toBe(true);
      expect(layer.base.weight.version).toBeGreaterThan(v0);
      expectClose(layer.forward(x).dataSync(), y, { atol: 1e-12, rtol: 1e-12 });
      expect(measureSaved(() => layer.forward(x)).entries.every((e) => e.op === 'linear')).toBe(true);
      expect(() => layer.merge()).toThrow(/already merged/);
      layer.unmerge();
      expectClose(layer.base.weight.dataSync(), W0, { atol: 1e-14, rtol: 1e-12 });
      expect(() => layer.unmerge()).toThrow(/not merged/);
    }
  });

  it('unmerge() refuses, leaving W as it is, when A or B changed in place since merge()', () => {
    for (const Layer of Object.values(LAYERS)) {
      const layer = trained(Layer);
      layer.merge();
      const merged = layer.base.weight.dataSync();
      const trainedFactor = Layer === LoraFbLinear ? layer.A : layer.B;
      const saved = trainedFactor.dataSync();
      trainedFactor.assign(ops.mul(trainedFactor, 2)); // e.g. an optimizer step taken while merged
      expect(() => layer.unmerge()).toThrow(LorafaError);
      expect(() => layer.unmerge()).toThrow(new RegExp(`${Layer.name}: unmerge\\(\\): ${Layer === LoraFbLinear ? 'A' : 'B'} \\[\\d+, \\d+\\] \\(float64, cpu\\) changed in place since merge\\(\\) \\(version \\d+ → \\d+\\); subtracting the current σ·A·B would not restore W`));
      expect(layer.base.weight.dataSync()).toEqual(merged);
      expect(layer.merged).toBe(true);
      trainedFactor.assign(tensor(saved, { shape: trainedFactor.shape, ...f64 })); // restoring the values bumps the version again
      expect(() => layer.unmerge()).toThrow(/changed in place since merge/);
    }
  });

  it('merge/unmerge round-trips W within rounding in float32', () => {
    for (const Layer of Object.values(LAYERS)) {
      const layer = new Layer(new Linear(d, o, { seed: 1 }), { rank: r, alpha: 6, seed: 2 });
      const zero = Layer === LoraFbLinear ? layer.A : layer.B;
      zero.assign(randn(zero.shape, { seed: 3 }));
      const W0 = layer.base.weight.dataSync().slice();
      const delta = ops.mul(ops.matmul(layer.A, layer.B), layer.scale).dataSync();
      layer.merge();
      expect(layer.base.weight.dtype).toBe('float32');
      expect(Array.from(layer.base.weight.dataSync())).not.toEqual(Array.from(W0));
      layer.unmerge();
      // two roundings (of W + σAB, then of the difference), each at most ½ ulp of its result
      const ulp = 2 ** -23;
      const bound = Array.from(W0, (w, i) => ulp * (Math.abs(w) + Math.abs(delta[i]!)) * 2);
      const W1 = layer.base.weight.dataSync();
      W0.forEach((w, i) => expect(Math.abs(W1[i]! - w), `element ${i}`).toBeLessThanOrEqual(bound[i]!));
    }
  });

  it('dispose() frees the parameters and the frozen factor\'s cached Cholesky factor', () => {
    for (const Layer of [LoraFaLinear, LoraFbLinear]) {
      const before = loraFactorStats().cached;
      const layer = new Layer(base(), { rank: r, alpha: 6, seed: 2 });
      expect(loraFactorStats().cached).toBe(before + 1);
      layer.dispose();
      expect(loraFactorStats().cached).toBe(before);
      expect([layer.A, layer.B, layer.base.weight, layer.base.bias!].every((t) => t.isDisposed)).toBe(true);
    }
  });

  it('dropout applies only in training mode; eval() gives the deterministic forward', () => {
    for (const Layer of Object.values(LAYERS)) {
      const layer = trained(Layer, { dropout: 0.5 });
      const plain = trained(Layer);
      expect(layer.forward(x).dataSync()).not.toEqual(layer.forward(x).dataSync());
      layer.eval();
      expect(layer.forward(x).dataSync()).toEqual(plain.forward(x).dataSync());
    }
  });

  it('LoRA-FA saves N·r per call, with dropout on too', () => {
    const layer = trained(LoraFaLinear, { dropout: 0.3 });
    const rep = measureSaved(() => layer.forward(x));
    expect(rep.bytes).toBe(5 * r * 8);
    rep.result.sum().backward();
  });
});

describe('bad options', () => {
  const make = (options: Partial<LoraLayerOptions>, Layer: (typeof LAYERS)[keyof typeof LAYERS] = LoraFaLinear) =>
    () => new Layer(base(), { rank: r, alpha: 1, ...options } as LoraLayerOptions);
  it('each is a LorafaError naming the layer and the value', () => {
    const cases: [() => unknown, RegExp][] = [
      [make({ rank: 0 }), /LoraFaLinear: rank = 0 is out of range for W \[12, 7\] \(float64, cpu\); expected an integer 1 ≤ r ≤ min\(d, o\) = 7/],
      [make({ rank: 8 }), /rank = 8 is out of range/],
      [make({ rank: 1.5 }), /rank = 1.5 is out of range/],
      [make({ alpha: 0 }), /alpha = 0 is invalid/],
      [make({ dropout: 1 }), /dropout = 1 is out of range/],
      [make({ initA: 'xavier' as never }), /initA = 'xavier' is unknown; expected one of gaussian, uniform, orthogonal, zeros/],
      [make({ initA: 'zeros' }), /initA = 'zeros' leaves AᵀA singular/],
      [make({ initB: 'zeros' }, LoraFbLinear), /LoraFbLinear: initB = 'zeros' leaves BBᵀ singular/],
      [make({ correction: 'exact' as never }), /correction = 'exact' is unknown/],
      [make({ ridge: -1 }), /ridge = -1 is invalid/],
      [make({ seed: -1 }), /seed must be an integer/],
      [() => new LoraLinear({} as Linear, { rank: 1, alpha: 1 }), /LoraLinear: expected a Linear layer to wrap, got an object with keys \[\]/],
      [() => new LoraLinear(randn([2, 2]) as unknown as Linear, { rank: 1, alpha: 1 }), /LoraLinear: expected a Linear layer to wrap, got a Tensor/],
      [() => new LoraFaLinear(undefined as unknown as Linear, { rank: 1, alpha: 1 }), /LoraFaLinear: expected a Linear layer to wrap, got undefined/],
      [() => new LoraLinear(base(), undefined as never), /LoraLinear: expected options/],
      [() => new LoraLinear(base(), { rank: r, alpha: 1 }).forward(randn([2, 5])), /LoraLinear: x \[2, 5\] \(float32, cpu\) does not fit/],
    ];
    for (const [fn, message] of cases) {
      expect(fn).toThrow(LorafaError);
      expect(fn).toThrow(message);
    }
  });
});
