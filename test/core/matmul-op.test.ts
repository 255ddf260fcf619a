/**
 * The matmul op (autograd, flags, batch broadcasting). The kernel itself is tested with large
 * and tile-edge sizes by its own suite; here sizes stay small and the shapes vary.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { measureSaved, ops, tensor } from '../../src/index.ts';
import { broadcastPair, dim, seed } from '../helpers/arbitraries.ts';
import { checkOp, randomInput } from '../helpers/check-op.ts';
import { expectClose } from '../helpers/allclose.ts';
import { matmul } from '../helpers/reference.ts';

const stored = (batch: number[], rows: number, cols: number, trans: boolean) => [...batch, ...(trans ? [cols, rows] : [rows, cols])];

describe('matmul: forward vs naive loops, backward vs gradcheck', () => {
  it('2-D, every transpose flag, sizes 1..6', () => {
    fc.assert(fc.property(dim(6), dim(6), dim(6), fc.boolean(), fc.boolean(), seed, (m, k, n, tA, tB, sd) => {
      checkOp({
        shapes: [stored([], m, k, tA), stored([], k, n, tB)], seed: sd,
        op: (a, b) => ops.matmul(a, b, { transA: tA, transB: tB }), ref: (a, b) => matmul(a, b, tA, tB),
      });
    }));
  });

  it('batched, with broadcast batch axes, every flag', () => {
    fc.assert(fc.property(broadcastPair(2, 3), dim(4), dim(4), dim(4), fc.boolean(), fc.boolean(), seed, ([ba, bb], m, k, n, tA, tB, sd) => {
      checkOp({
        shapes: [stored(ba, m, k, tA), stored(bb, k, n, tB)], seed: sd,
        op: (a, b) => ops.matmul(a, b, { transA: tA, transB: tB }), ref: (a, b) => matmul(a, b, tA, tB),
      });
    }));
  });

  it('only one operand requiring grad', () => {
    fc.assert(fc.property(broadcastPair(2, 3), dim(4), dim(4), dim(4), fc.boolean(), fc.boolean(), fc.boolean(), seed, ([ba, bb], m, k, n, tA, tB, first, sd) => {
      checkOp({
        shapes: [stored(ba, m, k, tA), stored(bb, k, n, tB)], seed: sd, grad: [first, !first],
        op: (a, b) => ops.matmul(a, b, { transA: tA, transB: tB }), ref: (a, b) => matmul(a, b, tA, tB),
      });
    }));
  });

  it('[B, s, d]·[d, o] (a weight shared by every row) equals the per-batch product', () => {
    fc.assert(fc.property(dim(3), dim(4), dim(5), dim(4), fc.boolean(), seed, (B, s, d, o, tB, sd) => {
      checkOp({ shapes: [[B, s, d], stored([], d, o, tB)], seed: sd, op: (x, w) => ops.matmul(x, w, { transB: tB }), ref: (x, w) => matmul(x, w, false, tB) });
    }));
  });

  it('sizes past the packed-kernel threshold (m·n·k ≥ 4096), every flag, batched', () => {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      checkOp({
        shapes: [stored([2], 17, 13, tA), stored([], 13, 19, tB)], seed: 31,
        op: (a, b) => ops.matmul(a, b, { transA: tA, transB: tB }), ref: (a, b) => matmul(a, b, tA, tB),
      });
    }
  });

  it('float32 agrees with the float64 reference', () => {
    const a = randomInput([3, 5, 7], 1, {}, false), b = randomInput([7, 2], 2, {}, false);
    const y = ops.matmul(ops.cast(a.t, 'float32'), ops.cast(b.t, 'float32'));
    expect(y.dtype).toBe('float32');
    expectClose(y.dataSync(), matmul(a.ref, b.ref).data, { atol: 1e-5, rtol: 1e-5 });
  });

  it('saves only what the needed gradients use', () => {
    const x = tensor(new Float32Array(6), { shape: [2, 3] });
    const w = tensor(new Float32Array(12), { shape: [3, 4], requiresGrad: true });
    const xg = tensor(new Float32Array(6), { shape: [2, 3], requiresGrad: true });
    const wFrozen = tensor(new Float32Array(12), { shape: [3, 4], parameter: true });
    expect(measureSaved(() => ops.matmul(x, w)).entries.map((e) => e.shape)).toEqual([[2, 3]]); // dW = xᵀ·g needs x
    expect(measureSaved(() => ops.matmul(xg, wFrozen)).entries.map((e) => [e.shape, e.kind])).toEqual([[[3, 4], 'parameter']]);
  });
});
