import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ops, tensor } from '../../src/index.ts';
import { broadcastPair, seed, shape } from '../helpers/arbitraries.ts';
import { checkOp } from '../helpers/check-op.ts';
import { concat, expand, nd, permute, slice, zip } from '../helpers/reference.ts';

/** A shape and a random permutation of its axes. */
const withPermutation = shape(0, 4, 4).chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray([...s.keys()], { minLength: s.length, maxLength: s.length })));

describe('shape ops: forward vs reference, backward vs gradcheck', () => {
  it('reshape to the same elements in another shape (with −1)', () => {
    fc.assert(fc.property(withPermutation, seed, fc.nat(), ([s, perm], sd, hole) => {
      const target = perm.map((a) => s[a]!); // same size, other order of sizes
      if (target.length > 0 && target.every((d) => d > 0)) target[hole % target.length] = -1;
      const resolved = perm.map((a) => s[a]!);
      checkOp({ shapes: [s], seed: sd, op: (x) => ops.reshape(x, target), ref: (x) => nd(resolved, x.data) });
    }));
  });

  it('reshape shares storage (a view) and keeps the flat order', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    const y = x.reshape([3, 2]);
    expect(y.storage).toBe(x.storage);
    expect(y.toArraySync()).toEqual([[1, 2], [3, 4], [5, 6]]);
  });

  it('permute', () => {
    fc.assert(fc.property(withPermutation, seed, ([s, perm], sd) => {
      checkOp({ shapes: [s], seed: sd, op: (x) => ops.permute(x, perm), ref: (x) => permute(x, perm) });
    }));
  });

  it('transpose of any two axes (negative allowed), and the default last two', () => {
    const arb = shape(2, 4, 4).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length, max: s.length - 1 }), fc.integer({ min: -s.length, max: s.length - 1 })));
    fc.assert(fc.property(arb, seed, ([s, d0, d1], sd) => {
      const dims = [...s.keys()];
      const a = d0 < 0 ? d0 + s.length : d0, b = d1 < 0 ? d1 + s.length : d1;
      [dims[a], dims[b]] = [dims[b]!, dims[a]!];
      checkOp({ shapes: [s], seed: sd, op: (x) => ops.transpose(x, d0, d1), ref: (x) => permute(x, dims) });
      const last = [...s.keys()];
      [last[s.length - 2], last[s.length - 1]] = [last[s.length - 1]!, last[s.length - 2]!];
      checkOp({ shapes: [s], seed: sd, op: (x) => x.transpose(), ref: (x) => permute(x, last) });
    }));
  });

  it('slice along any axis (negative indices, empty ranges)', () => {
    const arb = shape(1, 3, 5).chain((s) =>
      fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
        fc.tuple(fc.constant(s), fc.constant(axis), fc.integer({ min: 0, max: s[axis]! }), fc.integer({ min: 0, max: s[axis]! }), fc.boolean())));
    fc.assert(fc.property(arb, seed, ([s, axis, i, j, negative], sd) => {
      const [start, end] = [Math.min(i, j), Math.max(i, j)];
      const n = s[axis]!;
      // the same range written from the end (−n..−1), where end < n
      const [s0, e0] = negative && end < n ? [start - n, end - n] : [start, end];
      checkOp({ shapes: [s], seed: sd, op: (x) => ops.slice(x, axis - (negative ? s.length : 0), s0, e0), ref: (x) => slice(x, axis, start, end) });
    }));
  });

  it('concat of 1 to 3 tensors along any axis', () => {
    const arb = shape(1, 3, 4).chain((s) =>
      fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 })));
    fc.assert(fc.property(arb, seed, ([s, axis, sizes], sd) => {
      const shapes = sizes.map((n) => s.map((d, i) => (i === axis ? n : d)));
      checkOp({ shapes, seed: sd, op: (...xs) => ops.concat(xs, axis), ref: (...xs) => concat(xs, axis) });
    }));
  });

  it('concat with only some inputs requiring grad', () => {
    checkOp({ shapes: [[2, 3], [2, 1], [2, 2]], seed: 9, op: (...xs) => ops.concat(xs, -1), ref: (...xs) => concat(xs, 1), grad: [false, true, false] });
  });

  it('expand to a broadcast shape', () => {
    fc.assert(fc.property(broadcastPair(3, 4), seed, ([sa, sb], sd) => {
      const out = zip(nd(sa, new Array(sa.reduce((p, d) => p * d, 1)).fill(0)), nd(sb, new Array(sb.reduce((p, d) => p * d, 1)).fill(0)), () => 0).shape;
      checkOp({ shapes: [sb], seed: sd, op: (x) => ops.expand(x, out), ref: (x) => expand(x, out) });
    }));
  });
});
