import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ops, tensor } from '../../src/index.ts';
import { seed, shape } from '../helpers/arbitraries.ts';
import { checkOp } from '../helpers/check-op.ts';
import { map, reduce } from '../helpers/reference.ts';

/** A shape of rank ≥ 1 with a set of axes to reduce (undefined: all), some written negative, and keepdim. */
const reduction = shape(1, 3, 5).chain((s) =>
  fc.tuple(
    fc.constant(s),
    fc.option(fc.subarray([...s.keys()], { minLength: 1 }).chain((axes) =>
      fc.array(fc.boolean(), { minLength: axes.length, maxLength: axes.length }).map((neg) => axes.map((a, i) => (neg[i] ? a - s.length : a))),
    ), { nil: undefined }),
    fc.boolean(),
  ),
);

describe('reductions: forward vs reference, backward vs gradcheck', () => {
  it('sum over axes, with and without keepdim', () => {
    fc.assert(fc.property(reduction, seed, ([s, axes, keepdim], sd) => {
      checkOp({ shapes: [s], seed: sd, op: (x) => ops.sum(x, axes, keepdim), ref: (x) => reduce(x, axes, keepdim, 0, (a, v) => a + v) });
    }));
  });

  it('mean over axes', () => {
    fc.assert(fc.property(reduction, seed, ([s, axes, keepdim], sd) => {
      const count = (axes ?? [...s.keys()]).reduce((n, a) => n * s[a < 0 ? a + s.length : a]!, 1);
      checkOp({
        shapes: [s], seed: sd, op: (x) => ops.mean(x, axes, keepdim),
        ref: (x) => map(reduce(x, axes, keepdim, 0, (a, v) => a + v), (v) => v / count),
      });
    }));
  });

  it('max over axes (no ties in the data)', () => {
    fc.assert(fc.property(reduction, seed, ([s, axes, keepdim], sd) => {
      checkOp({
        shapes: [s], seed: sd, op: (x) => ops.max(x, axes, keepdim), ref: (x) => reduce(x, axes, keepdim, -Infinity, Math.max),
        domain: { distinct: true },
      });
    }));
  });

  it('a scalar reduces to itself; sum of a rank-0 tensor over no axes', () => {
    checkOp({ shapes: [[]], seed: 3, op: (x) => ops.sum(x), ref: (x) => x });
    checkOp({ shapes: [[]], seed: 4, op: (x) => ops.max(x), ref: (x) => x });
    checkOp({ shapes: [[2, 3]], seed: 5, op: (x) => ops.sum(x, []), ref: (x) => x });
  });

  it('max splits the gradient evenly between ties', () => {
    const x = tensor([[1, 3, 3], [2, 0, -1]], { dtype: 'float64', requiresGrad: true });
    ops.max(x, 1).sum().backward();
    expect(x.grad!.toArraySync()).toEqual([[0, 0.5, 0.5], [1, 0, 0]]);
  });

  it('sum of an empty axis is 0; mean of one element is that element', () => {
    expect(ops.sum(tensor(new Float32Array(0), { shape: [2, 0] }), 1).toArraySync()).toEqual([0, 0]);
    expect(ops.mean(tensor([[7]]), [0, 1]).itemSync()).toBe(7);
  });
});
