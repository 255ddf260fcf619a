/**
 * Each PEFT method's defining property (docs/math.md, docs/peft.md), on random shapes with
 * sizes 1 and both signs of σ, in float64:
 *   rsLoRA   σ = α/√r: the first step's update gain σ²·‖A‖_F² is α² whatever r (α²/r for LoRA)
 *   LoRA+    one SGD step moves B with λ·η and A with η
 *   PiSSA    at init the adapted layer computes the base layer's output; σ·A·B = [W]_r
 *   LoRA-GA  the first SGD step is −η·[G]_2r + η²σ³·(G·B₀ᵀ)(A₀ᵀ·G), and [G]_2r is the best rank-2r fit
 *   DoRA     W' = m ⊙ V/‖V‖_col, W' = W at init
 *   VeRA     r + o trained per layer; same-width layers share one A and B storage
 * and for every adapter layer: sgdDirection() is the first-order change of effectiveWeight().
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LorafaError, noGrad, ops, randn, type Tensor } from '../../src/index.ts';
import { AdapterLayer } from '../../src/lora/adapter-layer.ts';
import { applyAdapters, type AdapterMethod } from '../../src/lora/adapters.ts';
import { DoraLinear } from '../../src/lora/dora-layer.ts';
import { fullGradients } from '../../src/lora/lora-ga.ts';
import { loraPlusGroups } from '../../src/lora/loraplus.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear, LoraProLinear, type LoraAdapterLinear } from '../../src/lora/layers.ts';
import { VeraLinear, VeraProjections } from '../../src/lora/vera-layer.ts';
import { Linear } from '../../src/nn/linear.ts';
import { SGD } from '../../src/optim/sgd.ts';
import { singularValues, mat, matmul as dmm, transpose, norm, sub, scale as dscale, combine, type Mat } from '../../src/verify/dense.ts';
import { dim, seed } from '../helpers/arbitraries.ts';
import { expectClose } from '../helpers/allclose.ts';
import { expectError } from '../helpers/errors.ts';
import { One } from '../helpers/one-linear.ts';

const EPS = 2 ** -52;
const f64 = { dtype: 'float64' as const };
const sigmaSign = fc.boolean().map((neg) => (neg ? -1 : 1));
const host = (t: Tensor): Mat => mat(t.shape[0]!, t.shape.length > 1 ? t.shape[1]! : 1, Float64Array.from(t.dataSync()));
const linear = (d: number, o: number, s: number) => new Linear(d, o, { dtype: 'float64', seed: s });


describe('rsLoRA', () => {
  it('σ = α/√r; with orthonormal A the first step gain σ²‖A‖_F² = α² for every r (LoRA: α²/r)', () => {
    fc.assert(fc.property(dim(12), dim(12), fc.integer({ min: 1, max: 12 }), sigmaSign, seed, (d, o, rr, sign, s) => {
      const r = Math.min(rr, d, o), alpha = 3 * sign;
      const rs = new LoraLinear(linear(d, o, s), { rank: r, alpha, rslora: true, initA: 'orthogonal', seed: s });
      const plain = new LoraLinear(linear(d, o, s), { rank: r, alpha, initA: 'orthogonal', seed: s });
      expect(rs.scale).toBe(alpha / Math.sqrt(r));
      expect(plain.scale).toBe(alpha / r);
      const gain = (l: LoraLinear) => l.scale ** 2 * norm(host(l.A)) ** 2;
      expect(Math.abs(gain(rs) - alpha ** 2)).toBeLessThanOrEqual(1e-12 * alpha ** 2);
      expect(Math.abs(gain(plain) - alpha ** 2 / r)).toBeLessThanOrEqual(1e-12 * alpha ** 2);
    }));
  });

  it('the first SGD step from B = 0 changes the effective weight by −η·σ²·A·Aᵀ·G', () => {
    fc.assert(fc.property(dim(5), dim(6), dim(6), sigmaSign, seed, (N, d, o, sign, s) => {
      const r = Math.min(d, o), eta = 0.1;
      const layer = new LoraLinear(linear(d, o, s), { rank: r, alpha: 2 * sign, rslora: true, seed: s });
      const x = randn([N, d], { ...f64, seed: s + 1 }), dY = randn([N, o], { ...f64, seed: s + 2 });
      const before = host(layer.effectiveWeight());
      layer.forward(x).backward(dY);
      new SGD([layer.A, layer.B], { lr: eta }).step();
      const G = dmm(transpose(host(x)), host(dY));
      const A = host(layer.A); // A did not move (g_A = σ·G·Bᵀ = 0 at B = 0)
      const want = dscale(dmm(A, dmm(transpose(A), G)), -eta * layer.scale ** 2);
      expectClose(sub(host(layer.effectiveWeight()), before).data, want.data, { atol: 1e-12, rtol: 1e-10 });
    }));
  });
});

describe('LoRA+', () => {
  it('groups lora_B (and 1-D parameters) at λ·lr: one SGD step moves A by η·g_A and B by λ·η·g_B', () => {
    const model = new One(6, 5, 1);
    applyAdapters(model, { method: 'dora', rank: 2, alpha: 4, targets: ['fc'], seed: 3 });
    const groups = loraPlusGroups(model, { lr: 0.01, ratio: 16 });
    const names = new Map(model.namedParameters().map(([n, p]) => [p, n]));
    expect(groups.map((g) => [g.lr, g.params.map((p) => names.get(p))])).toEqual([
      [0.01, ['fc.lora_A']], [0.16, ['fc.lora_B', 'fc.lora_magnitude_vector']],
    ]);
    const layer = model.fc as unknown as DoraLinear;
    noGrad(() => layer.B.assign(randn([2, 5], { ...f64, seed: 4 }))); // so that g_A ≠ 0
    model.forward(randn([3, 6], { ...f64, seed: 5 })).sum().backward();
    const [A0, B0, gA, gB] = [layer.A, layer.B, layer.A.grad!, layer.B.grad!].map((t) => Float64Array.from(t.dataSync()));
    new SGD(groups, { lr: 0.01 }).step();
    expectClose(layer.A.dataSync(), A0!.map((v, i) => v - 0.01 * gA![i]!), { atol: 1e-15 });
    expectClose(layer.B.dataSync(), B0!.map((v, i) => v - 0.16 * gB![i]!), { atol: 1e-15 });
  });

  it('bad input: a bad ratio or lr, a model with nothing trainable, or no B to scale', () => {
    const model = new One(4, 3, 1);
    expectError(() => loraPlusGroups(model, { lr: 1, ratio: 0 }), 'loraPlusGroups', 'ratio = 0 is invalid');
    expectError(() => loraPlusGroups(model, { lr: -1, ratio: 16 }), 'loraPlusGroups', 'lr = -1 is invalid');
    model.freeze();
    expectError(() => loraPlusGroups(model, { lr: 1, ratio: 16 }), 'loraPlusGroups', 'the model has no trainable parameter');
    const fb = new One(4, 3, 1);
    applyAdapters(fb, { method: 'lorafb', rank: 1, alpha: 1, targets: ['fc'] });
    expectError(() => loraPlusGroups(fb, { lr: 1, ratio: 16 }), 'loraPlusGroups', 'no trainable lora_B (or 1-D) parameter among fc.lora_A');
  });
});

describe('PiSSA', () => {
  const methods = ['lora', 'lorafa', 'lorafb', 'lorapro', 'dora'] as const;
  it('at init the adapted layer computes the base layer\'s output (float64 rounding), for every method and both signs of σ', () => {
    fc.assert(fc.property(dim(5), dim(9), dim(9), fc.integer({ min: 1, max: 9 }), fc.constantFrom(...methods), sigmaSign, fc.boolean(), seed,
      (N, d, o, rr, method, sign, rs, s) => {
        const r = Math.min(rr, d, o);
        const model = new One(d, o, s);
        const x = randn([N, d], { ...f64, seed: s + 1 });
        const base = model.forward(x).dataSync();
        const W = host(model.fc.weight);
        applyAdapters(model, { method, rank: r, alpha: 1.5 * sign, rslora: rs, init: 'pissa', targets: ['fc'] });
        const layer = model.fc as unknown as LoraAdapterLinear;
        const y = model.forward(x).dataSync();
        const scaleY = Math.max(...Array.from(base, Math.abs), 1);
        expectClose(y, base, { atol: 64 * EPS * Math.sqrt(d * o) * scaleY * (1 + norm(W)), rtol: 0 });
        // σ·A·B = [W]_r: the residual's singular values are W's from r + 1 on
        const sW = singularValues(o > d ? transpose(W) : W), sRes = singularValues(o > d ? transpose(host(layer.base.weight)) : host(layer.base.weight));
        expectClose(sRes.slice(0, Math.min(d, o) - r), sW.slice(r), { atol: 1e-12 * (sW[0] ?? 1), rtol: 0 });
        expect(layer.init).toBe('pissa');
      }));
  });

  it('A = U_r·diag(√(S_r/|σ|)): AᵀA = BBᵀ = diag(S_r/|σ|), and col(A) is W\'s top-r left singular subspace', () => {
    const layer = new LoraFaLinear(linear(7, 5, 2), { rank: 2, alpha: -3, svdInit: 'pissa' });
    const W0 = host(linear(7, 5, 2).weight);
    const A = host(layer.A), B = host(layer.B);
    const s = singularValues(W0);
    const AtA = dmm(transpose(A), A), BBt = dmm(B, transpose(B));
    const want = [s[0]! / 1.5, 0, 0, s[1]! / 1.5];
    expectClose(AtA.data, want, { atol: 1e-13 });
    expectClose(BBt.data, want, { atol: 1e-13 });
    // col(A) = span(u₁, u₂): ‖W − P_A·W‖² = s₃² + s₄² + s₅²
    const PA = dmm(dmm(A, mat(2, 2, Float64Array.from([1 / AtA.data[0]!, 0, 0, 1 / AtA.data[3]!]))), transpose(A));
    expect(norm(sub(W0, dmm(PA, W0))) ** 2).toBeCloseTo(s.slice(2).reduce((a, v) => a + v * v, 0), 12);
  });

  it('bad input: svdInit with initA, a W that cannot be read synchronously is named, an unknown svdInit', () => {
    expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 1, alpha: 1, svdInit: 'pissa', initA: 'uniform' }), 'LoraLinear', 'svdInit sets both A and B; expected no initA or initB with it');
    expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 1, alpha: 1, svdInit: {} as never }), 'LoraLinear', "expected 'pissa' or LoRA-GA's { gradient, scale?, gamma? }");
  });
});

describe('LoRA-GA', () => {
  it('first SGD step: ΔW = −η·σ²c²·(A₀A₀ᵀG + G·B₀ᵀB₀) + η²σ³·(G·B₀ᵀ)(A₀ᵀG) exactly, and with c = 1/|σ| the first-order part is the best rank-2r fit of G', async () => {
    await fc.assert(fc.asyncProperty(dim(4), fc.integer({ min: 2, max: 10 }), fc.integer({ min: 2, max: 10 }), fc.integer({ min: 1, max: 5 }), sigmaSign, seed,
      async (N, d, o, rr, sign, s) => {
        const r = Math.max(1, Math.min(rr, Math.floor(Math.min(d, o) / 2)));
        const model = new One(d, o, s);
        const x = randn([N + 2 * r, d], { ...f64, seed: s + 1 }), dY = randn([N + 2 * r, o], { ...f64, seed: s + 2 });
        const loss = () => ops.sum(ops.mul(model.forward(x), dY));
        const grads = await fullGradients(model, loss, { targets: ['fc'] });
        const G = mat(d, o, grads['fc']!);
        expectClose(G.data, dmm(transpose(host(x)), host(dY)).data, { atol: 1e-12, rtol: 1e-12 });
        applyAdapters(model, { method: 'lora', rank: r, alpha: 2 * sign, init: 'lora-ga', gradients: grads, targets: ['fc'] });
        const layer = model.fc as unknown as LoraLinear;
        const sigma = layer.scale, eta = 0.05;
        const A0 = host(layer.A), B0 = host(layer.B), W0eff = host(layer.effectiveWeight());
        expectClose(W0eff.data, host(linear(d, o, s).weight).data, { atol: 1e-13 }); // the output is unchanged at init
        loss().backward();
        new SGD([layer.A, layer.B], { lr: eta }).step();
        const dW = sub(host(layer.effectiveWeight()), W0eff);
        const first = dmm(A0, dmm(transpose(A0), G)), firstB = dmm(dmm(G, transpose(B0)), B0);
        const lin = dscale(combine(first, 1, firstB, 1), -eta * sigma ** 2);
        const second = dscale(dmm(dmm(G, transpose(B0)), dmm(transpose(A0), G)), eta ** 2 * sigma ** 3);
        expectClose(dW.data, combine(lin, 1, second, 1).data, { atol: 1e-11 * (1 + norm(G)) ** 3, rtol: 0 });
        // with c = 1/|σ|: σ²c² = 1, so the first-order part is P = A₀A₀ᵀG + G·B₀ᵀB₀ itself; it has rank ≤ 2r and
        // ‖G − P‖² = Σ_{k>2r} s_k² (the Eckart–Young minimum), so P = [G]_2r
        const P = dscale(combine(first, 1, firstB, 1), sigma ** 2);
        const sG = singularValues(o > d ? transpose(G) : G);
        const tail = sG.slice(2 * r).reduce((a, v) => a + v * v, 0);
        expect(Math.abs(norm(sub(G, P)) ** 2 - tail)).toBeLessThanOrEqual(1e-10 * norm(G) ** 2);
        const sP = singularValues(o > d ? transpose(P) : P);
        expect(sP.slice(2 * r).every((v) => v <= 1e-10 * (sG[0] ?? 1))).toBe(true);
      }), { numRuns: 15 });
  });

  it("'stable' scale: A₀ and B₀ have columns / rows of norm c = o^¼/√γ", () => {
    const G = Float64Array.from({ length: 8 * 6 }, (_, i) => Math.sin(i * 1.7) + (i % 5));
    const layer = new LoraLinear(linear(8, 6, 1), { rank: 2, alpha: 4, svdInit: { gradient: G, scale: 'stable', gamma: 4 } });
    const c = 6 ** 0.25 / 2;
    const A = host(layer.A);
    expectClose(dmm(transpose(A), A).data, [c * c, 0, 0, c * c], { atol: 1e-12 });
  });

  it('bad input: 2r > min(d, o), a gradient of the wrong size, unknown scale, init and gradients apart, missing paths', async () => {
    expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 2, alpha: 1, svdInit: { gradient: new Float64Array(12) } }), 'LoraLinear', 'LoRA-GA needs 2r ≤ min(d, o): rank 2 gives 2r = 4 > 3 for W [4, 3]');
    expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 1, alpha: 1, svdInit: { gradient: new Float64Array(5) } }), 'LoraLinear', 'the LoRA-GA gradient has 5 values; expected G [4, 3] (12 values)');
    expectError(() => new LoraLinear(linear(4, 3, 1), { rank: 1, alpha: 1, svdInit: { gradient: new Float64Array(12), scale: 'big' as never } }), 'LoraLinear', "LoRA-GA scale 'big' is unknown");
    expectError(() => applyAdapters(new One(4, 3, 1), { method: 'lora', rank: 1, alpha: 1, init: 'lora-ga' }), 'applyAdapters', "init 'lora-ga' and gradients go together");
    expectError(() => applyAdapters(new One(4, 3, 1), { method: 'lora', rank: 1, alpha: 1, init: 'lora-ga', gradients: {}, targets: ['fc'] }), 'applyAdapters', "init 'lora-ga' has no gradient for fc");
    const model = new One(4, 3, 1);
    await expect(fullGradients(model, () => ops.sum(model.forward(randn([2, 4], f64))), { batches: 0 })).rejects.toThrow(/fullGradients: batches = 0 is invalid/);
    await expect(fullGradients(model, () => model.forward(randn([2, 4], f64)), { targets: ['fc'] })).rejects.toThrow(/fullGradients: loss\(0\) has shape \[2, 3\]; expected a scalar/);
    expect(model.fc.weight.requiresGrad).toBe(true); // restored after the failure
  });
});

describe('DoRA layer', () => {
  it('m = ‖W‖_col at init, so W\' = W and the output is the base\'s; merge and unmerge restore W', () => {
    const layer = new DoraLinear(linear(6, 4, 3), { rank: 2, alpha: 2, seed: 1 });
    const W = host(linear(6, 4, 3).weight);
    const colNorms = Array.from({ length: 4 }, (_, j) => Math.hypot(...Array.from({ length: 6 }, (_, i) => W.data[i * 4 + j]!)));
    expectClose(layer.m.dataSync(), colNorms, { atol: 1e-15 });
    expectClose(layer.effectiveWeight().dataSync(), W.data, { atol: 1e-15 });
    noGrad(() => layer.B.assign(randn([2, 4], { ...f64, seed: 2 })));
    const x = randn([3, 6], { ...f64, seed: 4 });
    const y = layer.forward(x).dataSync();
    layer.merge();
    expectClose(layer.forward(x).dataSync(), y, { atol: 1e-13 });
    layer.unmerge();
    expectClose(layer.base.weight.dataSync(), W.data, { atol: 1e-14 });
    expectError(() => new DoraLinear(linear(6, 4, 3), { rank: 2, alpha: 2, ridge: 1 }), 'DoraLinear', 'correction and ridge do not apply to DoRA');
  });
});

describe('VeRA layers', () => {
  it('r + o trained per layer; layers of one width share the sliced A and B storage; ΔW = 0 at init', () => {
    const proj = new VeraProjections(3, 8, 6, { seed: 1, dtype: 'float64' });
    const a = new VeraLinear(linear(8, 6, 1), proj), b = new VeraLinear(linear(5, 4, 2), proj), c = new VeraLinear(linear(5, 6, 3), proj);
    expect(a.numParameters({ trainable: true })).toBe(3 + 6);
    expect(b.A.storage).toBe(c.A.storage); // d = 5 for both
    expect(a.B.storage).toBe(c.B.storage); // o = 6 for both
    expectClose(b.A.dataSync(), proj.A.dataSync().slice(0, 5 * 3), { atol: 0 });
    expectClose(b.effectiveWeight().dataSync(), b.base.weight.dataSync(), { atol: 0 });
    expect(Math.max(...Array.from(proj.A.dataSync(), Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 8));
    expectError(() => proj.slicesFor(9, 2), 'VeraProjections', 'a layer W [9, 2] is wider than the shared A [8, 3]');
    expectError(() => new VeraProjections(0, 2, 2), 'VeraProjections', 'rank = 0 is invalid');
    expectError(() => new VeraLinear(new Linear(8, 6, { seed: 1 }), proj), 'VeraLinear', 'does not match W [8, 6] (float32, cpu); expected one dtype and device');
    proj.dispose();
    expect(b.A.isDisposed).toBe(false); // the layers keep their own handles
  });
});

describe('every adapter layer: sgdDirection() is the first-order change of effectiveWeight() under SGD', () => {
  const makers: Record<string, (base: Linear) => AdapterLayer> = {
    lora: (b) => new LoraLinear(b, { rank: 2, alpha: 3, initB: 'gaussian', seed: 1 }),
    lorafa: (b) => new LoraFaLinear(b, { rank: 2, alpha: -3, initB: 'gaussian', seed: 1 }),
    lorafb: (b) => new LoraFbLinear(b, { rank: 2, alpha: 3, initA: 'gaussian', seed: 1 }),
    lorapro: (b) => new LoraProLinear(b, { rank: 2, alpha: 3, initB: 'gaussian', seed: 1, ridge: 0 }),
    dora: (b) => new DoraLinear(b, { rank: 2, alpha: 3, initB: 'gaussian', seed: 1 }),
    vera: (b) => {
      const v = new VeraLinear(b, new VeraProjections(3, 5, 4, { seed: 2, dtype: 'float64' }));
      noGrad(() => v.lambdaB.assign(randn([4], { ...f64, seed: 3 })));
      return v;
    },
  };
  for (const [name, make] of Object.entries(makers)) {
    it(name, () => {
      const layer = make(linear(5, 4, 7));
      const x = randn([6, 5], { ...f64, seed: 8 }), dY = randn([6, 4], { ...f64, seed: 9 });
      layer.forward(x).backward(dY);
      const D = host(layer.sgdDirection()), before = host(layer.effectiveWeight());
      const eta = 1e-6;
      new SGD(layer.trainableParameters(), { lr: eta }).step();
      const moved = dscale(sub(before, host(layer.effectiveWeight())), 1 / eta);
      expectClose(moved.data, D.data, { atol: 1e-4 * (1 + norm(D)), rtol: 0 });
      expect(layer).toBeInstanceOf(AdapterLayer);
    });
  }
});

describe('applyAdapters accepts every method', () => {
  const methods: AdapterMethod[] = ['lora', 'lorafa', 'lorafb', 'lorapro', 'dora', 'vera'];
  it('options that do not apply to a method are refused, naming it', () => {
    const m = () => new One(4, 3, 1);
    expectError(() => applyAdapters(m(), { method: 'vera', rank: 2, alpha: 1 }), 'applyAdapters', "option alpha does not apply to method 'vera'");
    expectError(() => applyAdapters(m(), { method: 'lora', rank: 2 }), 'applyAdapters', "method 'lora' needs alpha");
    expectError(() => applyAdapters(m(), { method: 'lora', rank: 2, alpha: 1, correction: 'none' }), 'applyAdapters', "option correction does not apply to method 'lora'; it is for lorafa, lorafb");
    expectError(() => applyAdapters(m(), { method: 'dora', rank: 2, alpha: 1, dInitial: 1 }), 'applyAdapters', "option dInitial does not apply to method 'dora'; it is for vera");
    expectError(() => applyAdapters(m(), { method: 'vera', rank: 2, init: 'pissa' }), 'applyAdapters', "option init does not apply to method 'vera'");
    expectError(() => applyAdapters(m(), { method: 'lora', rank: 2, alpha: 1, loraGa: { scale: 'gd' } }), 'applyAdapters', "option loraGa is for init 'lora-ga'");
    expect(() => applyAdapters(m(), { method: 'lorapro', rank: 2, alpha: 1, ridge: -1 })).toThrow(LorafaError);
  });
  it('each method replaces the targets and keeps the output at init', () => {
    for (const method of methods) {
      const model = new One(6, 5, 2);
      const x = randn([3, 6], { ...f64, seed: 1 });
      const y0 = model.forward(x).dataSync();
      const report = applyAdapters(model, { method, rank: 2, ...(method === 'vera' ? {} : { alpha: 4 }), targets: ['fc'], seed: 1 });
      expect(report.replaced).toEqual(['fc']);
      expectClose(model.forward(x).dataSync(), y0, { atol: 1e-14 });
    }
  });
});
