/**
 * The PEFT methods' ops (ops.dora, ops.vera, ops.loraPro): forward against the generic autograd
 * graph of their formula, gradients against central differences (float64, random shapes with
 * sizes 1, both signs of σ, with and without dropout), what each saves (measured bytes equal to
 * the analytic formula of src/memory), and every bad-input error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradcheck, measureSaved, noGrad, ops, randn, tensor, type Tensor } from '../../src/index.ts';
import { adapterSavedElements } from '../../src/memory/adapters.ts';
import { dim, seed } from '../helpers/arbitraries.ts';
import { expectClose } from '../helpers/allclose.ts';
import { expectError } from '../helpers/errors.ts';
import { GRAD_TOL } from '../helpers/check-op.ts';
import { combine, fromTensor, gramCondition, matmul as dmm, norm as dnorm, project, scale as dscale, transpose } from '../../src/verify/dense.ts';

const f64 = { dtype: 'float64' as const };
const param = (shape: number[], s: number, requiresGrad = false) => randn(shape, { ...f64, seed: s, parameter: true, requiresGrad });
const sigma = fc.tuple(fc.double({ min: 0.25, max: 4, noNaN: true }), fc.boolean()).map(([s, neg]) => (neg ? -s : s));

/** The DoRA forward as a generic graph: x·W + drop(x)·((W + σAB)·diag(m/n) − W), n = ‖W + σAB‖_col (constant when detached). */
function doraGraph(x: Tensor, W: Tensor, A: Tensor, B: Tensor, m: Tensor, scale: number, detach: boolean, p = 0, dropSeed = 0): Tensor {
  const V = ops.add(W, ops.mul(ops.matmul(A, B), scale));
  const norm = (v: Tensor) => ops.sqrt(ops.sum(ops.mul(v, v), [0]));
  const n = detach ? noGrad(() => norm(V)) : norm(V);
  const Wp = ops.mul(V, ops.div(m, n));
  if (p === 0) return ops.matmul(x, Wp);
  const xd = ops.dropout(x, p, { seed: dropSeed });
  return ops.add(ops.matmul(x, W), ops.matmul(xd, ops.sub(Wp, W)));
}

describe('ops.dora', () => {
  it('forward and every gradient (x, A, B, m) against central differences, with the exact norm gradient', () => {
    fc.assert(fc.property(dim(4), dim(5), dim(5), seed, sigma, fc.constantFrom(0, 0.3), (N, d, o, s, scale, p) => {
      const r = Math.min(d, o);
      const x = randn([N, d], { ...f64, seed: s, requiresGrad: true });
      const W = param([d, o], s + 1), A = param([d, r], s + 2, true), B = param([r, o], s + 3, true);
      const m = randn([o], { ...f64, seed: s + 4, parameter: true, requiresGrad: true });
      const opts = { scale, dropout: p, seed: 9 };
      expectClose(ops.dora(x, W, A, B, m, opts).dataSync(), doraGraph(x, W, A, B, m, scale, false, p, 9).dataSync(), { atol: 1e-12, rtol: 1e-10 });
      const r1 = gradcheck((x, A, B, m) => ops.dora(x, W, A, B, m, opts), [x, A, B, m], GRAD_TOL);
      expect(r1.ok, JSON.stringify(r1.worst)).toBe(true);
    }), { numRuns: 12 });
  });

  it('detachNorm: the same forward; gradients are those of the graph with n a constant (PEFT)', () => {
    fc.assert(fc.property(dim(4), dim(5), dim(5), seed, sigma, fc.constantFrom(0, 0.3), (N, d, o, s, scale, p) => {
      const r = Math.min(d, o);
      const x = randn([N, d], { ...f64, seed: s, requiresGrad: true }), dY = randn([N, o], { ...f64, seed: s + 5 });
      const W = param([d, o], s + 1), A = param([d, r], s + 2, true), B = param([r, o], s + 3, true);
      const m = randn([o], { ...f64, seed: s + 4, parameter: true, requiresGrad: true });
      const grads = (y: Tensor) => {
        for (const t of [x, A, B, m]) t.grad = null;
        y.backward(dY);
        return [x, A, B, m].map((t) => Array.from(t.grad!.dataSync()));
      };
      const got = grads(ops.dora(x, W, A, B, m, { scale, detachNorm: true, dropout: p, seed: 3 }));
      const want = grads(doraGraph(x, W, A, B, m, scale, true, p, 3));
      got.forEach((g, i) => expectClose(g, want[i]!, { atol: 1e-12, rtol: 1e-10 }));
    }), { numRuns: 12 });
  });

  it('with m = ‖W + σAB‖_col it computes the LoRA output', () => {
    const x = randn([3, 4], f64), W = param([4, 5], 1), A = param([4, 2], 2), B = param([2, 5], 3);
    const m = noGrad(() => ops.sqrt(ops.sum(ops.mul(ops.add(W, ops.mul(ops.matmul(A, B), 0.5)), ops.add(W, ops.mul(ops.matmul(A, B), 0.5))), [0])));
    expectClose(ops.dora(x, W, A, B, m, { scale: 0.5 }).dataSync(), ops.lora(x, W, A, B, { scale: 0.5 }).dataSync(), { atol: 1e-13, rtol: 1e-12 });
  });

  it('bad input: a magnitude of the wrong shape or dtype, a trainable W, a bad detachNorm', () => {
    const x = randn([2, 4], f64), W = param([4, 3], 1), A = param([4, 2], 2), B = param([2, 3], 3);
    expectError(() => ops.dora(x, W, A, B, randn([4], f64), { scale: 1 }), 'dora', 'm [4] (float64, cpu) does not fit W [4, 3] (float64, cpu); expected the magnitude m [3] in float64');
    expectError(() => ops.dora(x, W, A, B, randn([3]), { scale: 1 }), 'dora', 'expected the magnitude m [3] in float64');
    expectError(() => ops.dora(x, param([4, 3], 1, true), A, B, randn([3], f64), { scale: 1 }), 'dora', 'W [4, 3] (float64, cpu) requires grad, but DoRA keeps W frozen');
    expectError(() => ops.dora(x, W, A, B, randn([3], f64), { scale: 1, detachNorm: 'yes' as never }), 'dora', "detachNorm = yes is invalid; expected true or false");
    expectError(() => ops.dora(x, W, A, B, randn([3], f64), { scale: 0 }), 'dora', 'scale = 0 is invalid');
  });
});

describe('ops.vera', () => {
  it('forward against x·W + (((x·A) ⊙ d)·B) ⊙ b, and gradients of x, d and b against central differences (any r ≥ 1)', () => {
    fc.assert(fc.property(dim(4), dim(5), dim(5), dim(6), seed, fc.constantFrom(0, 0.3), (N, d, o, r, s, p) => {
      const x = randn([2, N, d], { ...f64, seed: s, requiresGrad: true });
      const W = param([d, o], s + 1), A = param([d, r], s + 2), B = param([r, o], s + 3);
      const dv = param([r], s + 4, true), bv = param([o], s + 5, true);
      const opts = { dropout: p, seed: 4 };
      const xd = p > 0 ? ops.dropout(x, p, { seed: 4 }) : x;
      const want = ops.add(ops.matmul(x, W), ops.mul(ops.matmul(ops.mul(ops.matmul(xd, A), dv), B), bv));
      expectClose(ops.vera(x, W, A, B, dv, bv, opts).dataSync(), want.dataSync(), { atol: 1e-12, rtol: 1e-10 });
      const res = gradcheck((x, dv, bv) => ops.vera(x, W, A, B, dv, bv, opts), [x, dv, bv], GRAD_TOL);
      expect(res.ok, JSON.stringify(res.worst)).toBe(true);
    }), { numRuns: 12 });
  });

  it('bad input: shapes that do not fit, a trained A or B', () => {
    const x = randn([2, 4], f64), W = param([4, 3], 1), A = param([4, 6], 2), B = param([6, 3], 3);
    const dv = param([6], 4, true), bv = param([3], 5, true);
    expectError(() => ops.vera(x, W, A, B, param([5], 4, true), bv), 'vera', 'shapes do not fit', 'd [5] (float64, cpu)', 'expected x [..., d], W [d, o], A [d, r], B [r, o], d [r], b [o]');
    expectError(() => ops.vera(x, W, A, B, dv, param([4], 5, true)), 'vera', 'shapes do not fit', 'b [4] (float64, cpu)');
    expectError(() => ops.vera(x, W, param([4, 6], 2, true), B, dv, bv), 'vera', 'A [4, 6] (float64, cpu) requires grad, but VeRA keeps W and A and B frozen and trains only d and b');
    expectError(() => ops.vera(x, W, A, B, dv, bv, { dropout: 1 }), 'vera', 'dropout = 1 is out of range');
  });
});

describe('ops.loraPro', () => {
  it('forward is LoRA\'s and the input gradient is the true one', () => {
    fc.assert(fc.property(dim(4), dim(5), dim(5), seed, sigma, (N, d, o, s, scale) => {
      const r = Math.min(d, o);
      const x = randn([N, d], { ...f64, seed: s, requiresGrad: true });
      const W = param([d, o], s + 1), A = param([d, r], s + 2, true), B = param([r, o], s + 3, true);
      expectClose(ops.loraPro(x, W, A, B, { scale }).dataSync(), ops.lora(x, W, A, B, { scale }).dataSync(), { atol: 0, rtol: 0 });
      A.requiresGrad = B.requiresGrad = false;
      expect(gradcheck((x) => ops.loraPro(x, W, A, B, { scale }), [x], GRAD_TOL).ok).toBe(true);
    }), { numRuns: 10 });
  });

  it('for either sign of σ: σ·(A·gradB + gradA·B) = P_A·G + G·P_B − P_A·G·P_B (projections by QR)', () => {
    fc.assert(fc.property(dim(6), dim(6), dim(6), dim(3), seed, sigma, (N, d, o, rr, s, scale) => {
      const r = Math.min(rr, d, o);
      const x = randn([N, d], { ...f64, seed: s }), dY = randn([N, o], { ...f64, seed: s + 5 });
      const W = param([d, o], s + 1), A = param([d, r], s + 2, true), B = param([r, o], s + 3, true);
      ops.loraPro(x, W, A, B, { scale }).backward(dY);
      const [h, hA, hB] = [fromTensor(x), fromTensor(A), fromTensor(B)];
      const G = dmm(transpose(h), fromTensor(dY));
      const update = dscale(combine(dmm(hA, fromTensor(B.grad!)), 1, dmm(fromTensor(A.grad!), hB), 1), scale);
      const GPB = transpose(project(transpose(hB), transpose(G)));
      const want = combine(combine(project(hA, G), 1, GPB, 1), 1, project(hA, GPB), -1);
      const kappa = gramCondition(hA) * gramCondition(transpose(hB));
      expectClose(update.data, want.data, { atol: 1e-13 * kappa * (1 + dnorm(G)), rtol: 0 });
    }), { numRuns: 20 });
  });

  it('bad input: a trainable W; a singular BBᵀ without a ridge (B = 0) is refused naming the condition, accepted with one', () => {
    const x = randn([3, 4], f64), W = param([4, 3], 1), A = param([4, 2], 2, true);
    const B0 = tensor(new Float64Array(6), { shape: [2, 3], dtype: 'float64', parameter: true, requiresGrad: true });
    expectError(() => ops.loraPro(x, param([4, 3], 1, true), A, B0, { scale: 1 }), 'loraPro', 'W [4, 3] (float64, cpu) requires grad, but LoRA-Pro keeps W frozen');
    expectError(() => ops.loraPro(x, W, A, B0, { scale: 1 }), 'loraPro', 'BBᵀ of B [2, 3] (float64) is singular', 'condition estimate ∞');
    ops.loraPro(x, W, A, B0, { scale: 1, ridge: 1e-8 }).sum().backward();
    expect(Array.from(A.grad!.dataSync()).every((v) => v === 0)).toBe(true); // g_A = σ·G·Bᵀ = 0 at B = 0
  });
});

describe('saved bytes: measured = the analytic formula of src/memory (adapterSavedElements)', () => {
  it('dora N·(d + r + o), vera N·(r + o), loraPro N·(d + r), in float32 and float64, with and without dropout', () => {
    fc.assert(fc.property(dim(6), dim(6), dim(6), dim(4), fc.constantFrom('float32', 'float64') as fc.Arbitrary<'float32' | 'float64'>, fc.constantFrom(0, 0.2), (N, d, o, rr, dtype, p) => {
      const r = Math.min(rr, d, o);
      const size = dtype === 'float64' ? 8 : 4;
      const mk = (shape: number[], s: number, requiresGrad = false) => randn(shape, { dtype, seed: s, parameter: true, requiresGrad });
      const x = randn([N, d], { dtype, seed: 1 });
      const W = mk([d, o], 2), A = mk([d, r], 3, true), B = mk([r, o], 4, true), m = mk([o], 5, true);
      const dims = { N, d, o, r };
      const cases: [string, () => Tensor][] = [
        ['dora', () => ops.dora(x, W, A, B, m, { scale: 2, dropout: p })],
        ['lorapro', () => ops.loraPro(x, W, A, B, { scale: 2, dropout: p })],
      ];
      for (const [method, run] of cases) {
        const { bytes, result } = measureSaved(run);
        expect(bytes, method).toBe(adapterSavedElements(method as 'dora', dims) * size);
        result.sum().backward();
      }
      A.requiresGrad = B.requiresGrad = false;
      const { bytes, result } = measureSaved(() => ops.vera(x, W, A, B, mk([r], 6, true), mk([o], 7, true), { dropout: p }));
      expect(bytes, 'vera').toBe(adapterSavedElements('vera', dims) * size);
      result.sum().backward();
    }), { numRuns: 15 });
  });
});
