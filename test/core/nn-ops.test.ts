import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { manualSeed, ops, tensor, type NestedArray } from '../../src/index.ts';
import { expectClose } from '../helpers/allclose.ts';
import { dim, seed, shape } from '../helpers/arbitraries.ts';
import { checkOp, randomInput, randomValues } from '../helpers/check-op.ts';
import { dropoutMaskRef } from '../helpers/philox.ts';
import { crossEntropy, layerNorm, nd, reduce, softmax, where } from '../helpers/reference.ts';

/** values as nested arrays of shape s (row-major). */
function nest(values: readonly number[], s: readonly number[]): NestedArray {
  if (s.length === 0) return values[0]!;
  const inner = s.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: s[0]! }, (_, i) => nest(values.slice(i * inner, (i + 1) * inner), s.slice(1)));
}

/** A shape of rank ≥ 1 and an axis of it, sometimes written negative. */
const shapeAxis = shape(1, 3, 5).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length, max: s.length - 1 })));

describe('softmax and logSoftmax', () => {
  it('softmax along any axis: forward vs reference, backward vs gradcheck', () => {
    fc.assert(fc.property(shapeAxis, seed, ([s, axis], sd) => {
      checkOp({ shapes: [s], seed: sd, op: (x) => ops.softmax(x, axis), ref: (x) => softmax(x, axis), domain: { min: -4, max: 4 } });
    }));
  });

  it('logSoftmax along any axis', () => {
    fc.assert(fc.property(shapeAxis, seed, ([s, axis], sd) => {
      checkOp({ shapes: [s], seed: sd, op: (x) => ops.logSoftmax(x, axis), ref: (x) => softmax(x, axis, true), domain: { min: -4, max: 4 } });
    }));
  });

  it('rows sum to 1 and stay finite for large inputs (float32 and float64)', () => {
    fc.assert(fc.property(shapeAxis, seed, fc.constantFrom('float32' as const, 'float64' as const), ([s, axis], sd, dtype) => {
      const x = tensor(Float64Array.from(randomValues(s.reduce((a, b) => a * b, 1), sd, { min: -1e4, max: 1e4 })), { shape: s, dtype });
      const y = ops.softmax(x, axis);
      const data = Array.from(y.dataSync());
      expect(data.every(Number.isFinite)).toBe(true);
      const sums = reduce(nd(s, data), [axis], false, 0, (a, v) => a + v).data;
      for (const v of sums) expect(Math.abs(v - 1)).toBeLessThan(dtype === 'float32' ? 1e-6 : 1e-12);
    }));
  });

  it('logSoftmax is exact and finite at ±1e4', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const y = ops.logSoftmax(tensor([[1e4, -1e4], [-1e4, 1e4], [1e4, 1e4]], { dtype }));
      expect(y.toArraySync()).toEqual([[0, -2e4], [-2e4, 0], [-Math.LN2, -Math.LN2].map((v) => (dtype === 'float32' ? Math.fround(v) : v))]);
      const g = tensor([[1e4, -1e4]], { dtype: 'float64', requiresGrad: true });
      ops.logSoftmax(g).sum().backward();
      expect(g.grad!.toArraySync()).toEqual([[-1, 1]]); // 1 − 2·softmax: softmax = [1, 0]
    }
  });
});

describe('crossEntropy', () => {
  /** N rows of C classes, targets in [0, C) with some rows set to the ignore index (at least one kept). */
  const ceCase = fc.tuple(dim(5), dim(5), fc.constantFrom(-100, -1, 2)).chain(([N, C, ignore]) =>
    fc.tuple(fc.constant(N), fc.constant(C), fc.constant(ignore),
      fc.array(fc.option(fc.integer({ min: 0, max: C - 1 }), { nil: ignore, freq: 3 }), { minLength: N, maxLength: N })
        .filter((t) => t.some((v) => v !== ignore))));

  it('mean over non-ignored rows: forward vs reference, backward vs gradcheck', () => {
    fc.assert(fc.property(ceCase, seed, ([N, C, ignore, targets], sd) => {
      checkOp({
        shapes: [[N, C]], seed: sd, domain: { min: -3, max: 3 },
        op: (z) => ops.crossEntropy(z, targets, { ignoreIndex: ignore }), ref: (z) => nd([], [crossEntropy(z, targets, ignore)]),
      });
    }));
  });

  it('accepts an int32 tensor of targets; every row ignored gives NaN', () => {
    const z = tensor([[1, 2], [3, 5]], { dtype: 'float64' });
    const t = tensor(new Int32Array([1, 0]), { shape: [2] });
    expect(ops.crossEntropy(z, t).itemSync()).toBeCloseTo(crossEntropy(nd([2, 2], [1, 2, 3, 5]), [1, 0], -100), 14);
    expect(ops.crossEntropy(z, [-100, -100]).itemSync()).toBeNaN();
  });

  it('is stable for huge logits', () => {
    const z = tensor([[1e4, -1e4, 0]], { dtype: 'float64', requiresGrad: true });
    expect(ops.crossEntropy(z, [1]).itemSync()).toBe(2e4);
  });

  it('float32 logits near 1e5: loss and gradient as the float64 reference to float32 precision', () => {
    // ulp(1e5) in float32 is 2⁻⁷: m + ln s would keep ln s only to 0.0078 (a 0.3% error in the loss)
    const rows = [[1e5, 1e5, 99999], [-3e4, -3e4 + 0.5, -3e4 - 2], [99999.5, 1e5, -1e5]];
    fc.assert(fc.property(fc.constantFrom(...rows), fc.integer({ min: 0, max: 2 }), (row, t) => {
      const z32 = tensor([row], { requiresGrad: true }), z64 = tensor([row], { dtype: 'float64', requiresGrad: true });
      const loss32 = ops.crossEntropy(z32, [t]), loss64 = ops.crossEntropy(z64, [t]);
      expect(loss64.itemSync()).toBeCloseTo(crossEntropy(nd([1, 3], row), [t], -100), 12);
      expectClose([loss32.itemSync()], [loss64.itemSync()], { atol: 0, rtol: 2 ** -23 });
      loss32.backward();
      loss64.backward();
      expectClose(z32.grad!.dataSync(), z64.grad!.dataSync(), { atol: 2 ** -24, rtol: 2 ** -23 });
    }));
  });
});

describe('layerNorm', () => {
  const lnCase = shape(1, 3, 5);
  // a row of 2 close values has x̂ = ±d/√(d² + 4·1e-5) (d half their gap), curved so sharply
  // that central differences miss by 1e-4 at eps = 1e-5 and by 1e-8 (rounding) at 1e-6;
  // distinct values keep neighbours (max − min)/(2·size) apart
  const domain = { distinct: true };
  it('affine: forward vs reference, gradients of x, γ and β', () => {
    fc.assert(fc.property(lnCase, seed, (s, sd) => {
      const C = s[s.length - 1]!;
      checkOp({
        shapes: [s, [C], [C]], seed: sd, op: (x, g, b) => ops.layerNorm(x, g, b),
        ref: (x, g, b) => layerNorm(x, g!.data, b!.data, 1e-5), domain,
      });
    }));
  });

  it('not affine, and affine with only some inputs requiring grad', () => {
    fc.assert(fc.property(lnCase, seed, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), (s, sd, grad) => {
      checkOp({ shapes: [s], seed: sd, op: (x) => ops.layerNorm(x, null, null, 1e-3), ref: (x) => layerNorm(x, null, null, 1e-3) });
      const C = s[s.length - 1]!;
      if (!grad.some(Boolean)) grad[0] = true;
      checkOp({ shapes: [s, [C], [C]], seed: sd, grad, op: (x, g, b) => ops.layerNorm(x, g, b), ref: (x, g, b) => layerNorm(x, g!.data, b!.data, 1e-5), domain });
    }));
  });
});

describe('embedding', () => {
  it('gathers rows; the backward scatter-adds repeated indices', () => {
    const arb = fc.tuple(dim(5), dim(4), shape(1, 2, 4)).chain(([V, D, s]) =>
      fc.tuple(fc.constant(V), fc.constant(D), fc.constant(s), fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: s.reduce((a, b) => a * b, 1), maxLength: s.reduce((a, b) => a * b, 1) })));
    fc.assert(fc.property(arb, seed, fc.boolean(), ([V, D, s, idx], sd, nested) => {
      const indices = nested ? nest(idx, s) : tensor(Int32Array.from(idx), { shape: s });
      checkOp({
        shapes: [[V, D]], seed: sd, op: (table) => ops.embedding(table, indices),
        ref: (table) => nd([...s, D], idx.flatMap((r) => table.data.slice(r * D, (r + 1) * D))),
      });
    }));
  });

  it('takes nested index arrays: [[1, 1], [0, 3]] gives [2, 2, D]; a number gives [D]', () => {
    const { t: table } = randomInput([4, 3], 9);
    const rows = table.toArraySync() as number[][];
    const y = ops.embedding(table, [[1, 1], [0, 3]]);
    expect(y.shape).toEqual([2, 2, 3]);
    expect(y.toArraySync()).toEqual([[rows[1], rows[1]], [rows[0], rows[3]]]);
    y.sum().backward();
    expect(table.grad!.toArraySync()).toEqual([[1, 1, 1], [2, 2, 2], [0, 0, 0], [1, 1, 1]]);
    expect(ops.embedding(table, 2).toArraySync()).toEqual(rows[2]);
    expect(ops.embedding(table, [[[3]]]).shape).toEqual([1, 1, 1, 3]);
    expect(ops.embedding(table, [[], []]).shape).toEqual([2, 0, 3]);
  });
});

describe('dropout', () => {
  it('with a fixed seed: forward is the Philox mask scaled by 1/(1 − p); backward uses the same mask', () => {
    fc.assert(fc.property(shape(0, 3, 6), seed, fc.double({ min: 0, max: 0.9, noNaN: true }), (s, sd, p) => {
      const n = s.reduce((a, b) => a * b, 1);
      const mask = dropoutMaskRef(n, p, sd, 0);
      checkOp({
        shapes: [s], seed: sd, op: (x) => ops.dropout(x, p, { seed: sd }),
        ref: (x) => nd(s, x.data.map((v, i) => (p === 0 ? v : mask[i] ? v / (1 - p) : 0))), forwardTol: { atol: 1e-15, rtol: 1e-15 },
      });
    }));
  });

  it('from the global generator: the mask is regenerated identically in backward', () => {
    manualSeed(1234);
    const { t: x } = randomInput([7, 9], 5, { awayFromZero: 0.1 });
    const y = ops.dropout(x, 0.3);
    const yv = y.dataSync(), xv = x.dataSync();
    y.sum().backward();
    const g = x.grad!.dataSync();
    for (let i = 0; i < xv.length; i++) expect(g[i]).toBeCloseTo(yv[i]! / xv[i]!, 12);
    expect(Array.from(g).some((v) => v === 0)).toBe(true);
    // two calls draw different masks; the same seed reproduces the first
    manualSeed(1234);
    expect(ops.dropout(x, 0.3).dataSync()).toEqual(yv);
    expect(ops.dropout(x, 0.3).dataSync()).not.toEqual(yv);
  });

  it('evaluation mode and p = 0 return x itself', () => {
    const x = tensor([1, 2, 3]);
    expect(ops.dropout(x, 0.5, { training: false })).toBe(x);
    expect(ops.dropout(x, 0)).toBe(x);
  });
});

describe('where and maskedFill', () => {
  it('where(cond, a, b) with all three broadcast', () => {
    const arb = fc.tuple(shape(0, 3, 3), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 3, maxLength: 3 }));
    fc.assert(fc.property(arb, seed, ([s, ...rest], sd) => {
      const [ones, drops] = rest as [boolean[], number[]];
      // each operand: a suffix of s, possibly with size 1 where s has its own size
      const sub = (k: number) => s.slice(Math.min(drops[k]!, s.length)).map((d, i) => (ones[k] && i % 2 === 0 ? 1 : d));
      const condShape = sub(0), aShape = sub(1), bShape = sub(2);
      const cond = tensor(Float64Array.from(randomValues(condShape.reduce((p, d) => p * d, 1), sd + 5).map((v) => (v > 0 ? 1 : 0))), { shape: condShape, dtype: 'float64' });
      const c = nd(condShape, cond.dataSync());
      checkOp({ shapes: [aShape, bShape], seed: sd, op: (a, b) => ops.where(cond, a, b), ref: (a, b) => where(c, a, b) });
    }));
  });

  it('maskedFill puts the value where the mask is set (a causal mask)', () => {
    fc.assert(fc.property(dim(5), dim(3), seed, (T, B, sd) => {
      const mask = tensor(Float64Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? 1 : 0)), { shape: [T, T], dtype: 'float64' });
      checkOp({
        shapes: [[B, T, T]], seed: sd, op: (x) => ops.maskedFill(x, mask, -1e4),
        ref: (x) => nd(x.shape, x.data.map((v, i) => (i % T > Math.floor(i / T) % T ? -1e4 : v))),
        // the −1e4 fills put ~1e4 per element into L = Σ w·y, whose rounding a central difference
        // divides by eps; y is linear in x, so a large eps costs no truncation error
        gradTol: { eps: 1e-2 },
      });
    }));
  });

  it('where takes a condition from gt (or an int32 mask) and a number for a or b', () => {
    const x = tensor([[-1, 2], [3, -4]], { dtype: 'float64', requiresGrad: true });
    const y = ops.where(ops.gt(x, 0), x, 0);
    expect(y.toArraySync()).toEqual([[0, 2], [3, 0]]);
    y.sum().backward();
    expect(x.grad!.toArraySync()).toEqual([[0, 1], [1, 0]]);
    expect(ops.eq(x, 2).toArraySync()).toEqual([[0, 1], [0, 0]]);
    const mask = tensor(new Int32Array([0, 1]), { shape: [2] });
    expect(ops.maskedFill(x, mask, -1).toArraySync()).toEqual([[-1, -1], [3, -1]]);
    expect(ops.where(mask, 5, x).toArraySync()).toEqual([[-1, 5], [3, 5]]);
  });
});

describe('cast', () => {
  it('float64 → float32 → float64 rounds to float32; the gradient flows back', () => {
    fc.assert(fc.property(shape(0, 3, 5), seed, (s, sd) => {
      checkOp({
        shapes: [s], seed: sd, op: (x) => ops.cast(ops.cast(x, 'float32'), 'float64'), ref: (x) => nd(s, x.data.map(Math.fround)),
        // fround is a staircase (steps ≤ 2.4e-7 on [−2, 2]) of slope 1 only on average: a wide
        // eps sees that slope, off by up to step/(2·eps) ≈ 1.2e-5
        forwardTol: { atol: 0, rtol: 0 }, gradTol: { eps: 1e-2, atol: 1e-4 },
      });
    }));
  });

  it('float32 → float64: the gradient comes back as float32', () => {
    const x = tensor([0.1, 0.2], { requiresGrad: true });
    const y = ops.cast(x, 'float64');
    expect(y.dtype).toBe('float64');
    expect(Array.from(y.dataSync())).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    ops.mul(y, tensor([1 / 3, 3], { dtype: 'float64' })).sum().backward();
    expect(x.grad!.dtype).toBe('float32');
    expect(Array.from(x.grad!.dataSync())).toEqual([Math.fround(1 / 3), 3]);
  });

  it('to int32 truncates toward zero, saturates at −2³¹ and 2³¹ − 1, and maps NaN to 0', () => {
    const [MIN, MAX] = [-(2 ** 31), 2 ** 31 - 1];
    for (const dtype of ['float32', 'float64'] as const) {
      const x = tensor([-1.7, 1.7, 2, -2.7, -0.5, 3e9, -3e9, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31)], { dtype });
      expect(ops.cast(x, 'int32').toArraySync()).toEqual([-1, 1, 2, -2, 0, MAX, MIN, 0, MAX, MIN, MAX, MIN]);
    }
    const edges = tensor([MAX + 0.9, MAX - 0.5, MIN - 0.5, MIN + 0.5], { dtype: 'float64' });
    expect(ops.cast(edges, 'int32').toArraySync()).toEqual([MAX, MAX - 1, MIN, MIN + 1]);
    expect(ops.cast(tensor(new Int32Array([MIN, -1, MAX])), 'int32').toArraySync()).toEqual([MIN, -1, MAX]);
  });
});
