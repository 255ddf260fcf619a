import { describe, fail, fmtShape } from '../../errors.ts';
import { broadcastShapes, checkShape, contiguousStrides, normalizeAxis, sameShape, sizeOf } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { Function, type Context } from '../function.ts';
import { sumToShape, view, wrap } from './util.ts';
import { autocastOp } from '../autocast.ts';

/**
 * Forward: y = x viewed with a new shape (one size may be −1); shares x's storage.
 * Backward: dx = g viewed with x's shape.
 * Saves: nothing.
 */
export class Reshape extends Function {
  static override readonly opName = 'reshape';
  static override forward(ctx: Context<{ inShape: readonly number[] }>, x: Tensor, shape: readonly number[]): Tensor {
    const target = inferReshape(x, shape);
    ctx.meta = { inShape: x.shape };
    return view(x, target);
  }
  static override backward(ctx: Context<{ inShape: readonly number[] }>, g: Tensor) {
    return [view(g, ctx.meta.inShape)];
  }
}

function inferReshape(x: Tensor, shape: readonly number[]): number[] {
  const holes = shape.filter((d) => d === -1).length;
  const known = sizeOf(shape.filter((d) => d !== -1));
  const bad = () => fail('reshape', `cannot reshape ${describe('x', x)} (${x.size} elements) to ${fmtShape(shape)}; expected the same number of elements, with at most one −1`);
  if (holes > 1 || shape.some((d) => d !== -1 && (!Number.isInteger(d) || d < 0))) bad();
  const out = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (!Number.isInteger(out[shape.indexOf(-1)] ?? 0) || sizeOf(out) !== x.size) bad();
  return out;
}

/**
 * Forward: y = x with axes reordered: y.shape[i] = x.shape[dims[i]] (a copy).
 * Backward: dx = g permuted by the inverse of dims.
 * Saves: nothing.
 */
export class Permute extends Function {
  static override readonly opName = 'permute';
  static override forward(ctx: Context<{ dims: number[] }>, x: Tensor, dims: readonly number[]): Tensor {
    const d = dims.map((a) => normalizeAxis(this.opName, a, x.rank, x));
    if (d.length !== x.rank || new Set(d).size !== d.length) {
      fail(this.opName, `dims [${dims.join(', ')}] is not a permutation of the ${x.rank} axes of ${describe('x', x)}`);
    }
    ctx.meta = { dims: d };
    return permuteRaw(x, d);
  }
  static override backward(ctx: Context<{ dims: number[] }>, g: Tensor) {
    const inverse = new Array<number>(ctx.meta.dims.length);
    ctx.meta.dims.forEach((a, i) => (inverse[a] = i));
    return [permuteRaw(g, inverse)];
  }
}

function permuteRaw(x: Tensor, dims: number[]): Tensor {
  const strides = contiguousStrides(x.shape);
  const shape = dims.map((a) => x.shape[a]!);
  return wrap(x.backend.kernels.gatherStrided(x.storage, { shape, strides: dims.map((a) => strides[a]!), offset: 0 }), shape);
}

interface SliceMeta {
  inShape: readonly number[];
  axis: number;
  start: number;
}

/**
 * Forward: y = x[..., start:end, ...] along one axis (a copy; negative indices count from the end).
 * Backward: dx = zeros of x's shape with g written at [start:end].
 * Saves: nothing.
 */
export class Slice extends Function {
  static override readonly opName = 'slice';
  static override forward(ctx: Context<SliceMeta>, x: Tensor, axis: number, start: number, end: number): Tensor {
    if (x.rank === 0) fail(this.opName, `${describe('x', x)} has no axis to slice; expected a tensor of rank ≥ 1`);
    const ax = normalizeAxis(this.opName, axis, x.rank, x);
    const n = x.shape[ax]!;
    const s = start < 0 ? start + n : start, e = end < 0 ? end + n : end;
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > n || s > e) {
      fail(this.opName, `range [${start}, ${end}) is invalid for axis ${axis} of size ${n} in ${describe('x', x)}; expected 0 ≤ start ≤ end ≤ ${n}`);
    }
    ctx.meta = { inShape: x.shape, axis: ax, start: s };
    const shape = [...x.shape];
    shape[ax] = e - s;
    return wrap(x.backend.kernels.gatherStrided(x.storage, sliceView(x.shape, ax, s, shape)), shape);
  }
  static override backward(ctx: Context<SliceMeta>, g: Tensor) {
    const { inShape, axis, start } = ctx.meta;
    const dx = g.backend.kernels.full(g.dtype, sizeOf(inShape), 0);
    g.backend.kernels.scatterStrided(dx, g.storage, sliceView(inShape, axis, start, g.shape));
    return [wrap(dx, inShape)];
  }
}

/** The view of a [start, start + shape[axis]) block along axis inside a contiguous tensor of fullShape. */
function sliceView(fullShape: readonly number[], axis: number, start: number, shape: readonly number[]) {
  const strides = contiguousStrides(fullShape);
  return { shape, strides, offset: start * strides[axis]! };
}

/**
 * Forward: y = the inputs joined along axis (all other sizes equal).
 * Backward: dxᵢ = the block of g that xᵢ filled.
 * Saves: nothing.
 */
export class Concat extends Function {
  static override readonly opName = 'concat';
  static override forward(ctx: Context<{ axis: number; sizes: number[] }>, axis: number, ...xs: Tensor[]): Tensor {
    if (xs.length === 0) fail(this.opName, 'expected at least one tensor');
    const first = xs[0]!;
    if (first.rank === 0) fail(this.opName, `${describe('the first input', first)} has no axis to join along; expected tensors of rank ≥ 1`);
    const ax = normalizeAxis(this.opName, axis, first.rank, first);
    for (const t of xs) {
      const same = t.rank === first.rank && t.shape.every((d, i) => i === ax || d === first.shape[i]);
      if (!same || t.dtype !== first.dtype) {
        fail(this.opName, `${describe('input', t)} does not match ${describe('the first input', first)}; expected the same dtype and sizes except on axis ${ax}`);
      }
    }
    const sizes = xs.map((t) => t.shape[ax]!);
    const shape = [...first.shape];
    shape[ax] = sizes.reduce((a, b) => a + b, 0);
    const out = first.backend.kernels.full(first.dtype, sizeOf(shape), 0);
    let start = 0;
    for (const t of xs) {
      first.backend.kernels.scatterStrided(out, t.storage, sliceView(shape, ax, start, t.shape));
      start += t.shape[ax]!;
    }
    ctx.meta = { axis: ax, sizes };
    return wrap(out, shape);
  }
  static override backward(ctx: Context<{ axis: number; sizes: number[] }>, g: Tensor) {
    const { axis, sizes } = ctx.meta;
    let start = 0;
    const grads = sizes.map((n, i) => {
      const shape = [...g.shape];
      shape[axis] = n;
      const gi = ctx.needsInputGrad[i + 1] ? wrap(g.backend.kernels.gatherStrided(g.storage, sliceView(g.shape, axis, start, shape)), shape) : null;
      start += n;
      return gi;
    });
    return [null, ...grads];
  }
}

/**
 * Forward: y = x broadcast to shape (numpy rules; a copy).
 * Backward: dx = g summed over the broadcast axes.
 * Saves: nothing.
 */
export class Expand extends Function {
  static override readonly opName = 'expand';
  static override forward(ctx: Context<{ inShape: readonly number[] }>, x: Tensor, shape: readonly number[]): Tensor {
    checkShape(this.opName, shape);
    const out = broadcastShapes(this.opName, [x.shape, shape]);
    if (!sameShape(out, shape)) fail(this.opName, `cannot expand ${describe('x', x)} to ${fmtShape(shape)}; expected each size to match or be 1 in x`);
    ctx.meta = { inShape: x.shape };
    const lead = shape.length - x.rank;
    const xs = contiguousStrides(x.shape);
    const strides = shape.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : xs[i - lead]!));
    return wrap(x.backend.kernels.gatherStrided(x.storage, { shape, strides, offset: 0 }), shape);
  }
  static override backward(ctx: Context<{ inShape: readonly number[] }>, g: Tensor) {
    return [sumToShape(g, ctx.meta.inShape)];
  }
}

export const reshape = (x: Tensor, shape: readonly number[]): Tensor => Reshape.apply(x, shape);
export const permute = (x: Tensor, dims: readonly number[]): Tensor => Permute.apply(x, dims);
export const slice = (x: Tensor, axis: number, start: number, end: number): Tensor => Slice.apply(x, axis, start, end);
export const concat = (xs: readonly Tensor[], axis = 0): Tensor => autocastOp('promote', xs, (...cs) => Concat.apply(axis, ...cs));
export const expand = (x: Tensor, shape: readonly number[]): Tensor => Expand.apply(x, shape);

/** Swaps two axes (the last two by default). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  if (x.rank < 2 && dim0 === -2 && dim1 === -1) fail('transpose', `${describe('x', x)} has fewer than 2 axes; expected rank ≥ 2 (or pass dim0 and dim1)`);
  const a = normalizeAxis('transpose', dim0, x.rank, x), b = normalizeAxis('transpose', dim1, x.rank, x);
  const dims = [...Array(x.rank).keys()];
  if (a !== b) [dims[a], dims[b]] = [dims[b]!, dims[a]!]; // (a rank-0 tensor accepts axis 0: a copy)
  return permute(x, dims);
}
