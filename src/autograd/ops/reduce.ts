import type { ReduceOp } from '../../backends/backend.ts';
import { describe, describeValue, fail } from '../../errors.ts';
import { contiguousStrides, normalizeAxis, sizeOf } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { Function, type Context } from '../function.ts';
import { div, mul } from './elementwise.ts';
import { checkFloat, wrap } from './util.ts';
import { eq } from './select.ts';
import { reshape } from './shape.ts';

export type Axes = number | readonly number[] | undefined;

interface ReduceMeta {
  inShape: readonly number[];
  /** The output shape with reduced axes kept as 1. */
  keptShape: number[];
}

/**
 * Sorted, de-duplicated, non-negative axes (all axes when undefined). A rank-0 tensor accepts
 * axis 0 or −1, as PyTorch does, and has no axis to reduce: its reduction is itself.
 */
export function resolveAxes(op: string, axes: Axes, rank: number, x?: Tensor): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  if (typeof axes !== 'number' && !Array.isArray(axes)) fail(op, `axes is ${describeValue(axes)}; expected an axis or a list of axes`);
  const list = (typeof axes === 'number' ? [axes] : [...axes]).map((a) => normalizeAxis(op, a, rank, x));
  if (rank === 0) return [];
  const unique = [...new Set(list)].sort((a, b) => a - b);
  if (unique.length !== list.length) fail(op, `axis list [${[...(typeof axes === 'number' ? [axes] : axes)].join(', ')}] repeats an axis${x ? ` of ${describe('x', x)}` : ''}; expected distinct axes`);
  return unique;
}

/** Reduces x over the given axes with the backend's [outer, len, inner] kernel, one run of adjacent axes at a time. */
function reduceAxes(op: ReduceOp, x: Tensor, axes: number[]): { storage: typeof x.storage; keptShape: number[] } {
  const shape = [...x.shape];
  let s = x.storage;
  for (let i = axes.length - 1; i >= 0;) {
    let j = i;
    while (j > 0 && axes[j - 1] === axes[j]! - 1) j--; // axes[j..i] are adjacent
    const first = axes[j]!, last = axes[i]!;
    const next = x.backend.kernels.reduce(op, s, sizeOf(shape.slice(0, first)), sizeOf(shape.slice(first, last + 1)), sizeOf(shape.slice(last + 1)));
    if (s !== x.storage) s.release();
    s = next;
    for (let a = first; a <= last; a++) shape[a] = 1;
    i = j - 1;
  }
  if (s === x.storage) s.retain(); // no axes: a copy-free view
  return { storage: s, keptShape: shape };
}

function outShape(keptShape: number[], axes: number[], keepdim: boolean): number[] {
  return keepdim ? keptShape : keptShape.filter((_, i) => !axes.includes(i));
}

/** g (reduced shape) broadcast back to the input shape, as a strided view with stride 0 on reduced axes. */
function expandBack(g: Tensor, meta: ReduceMeta): Tensor {
  const strides = contiguousStrides(meta.keptShape).map((s, i) => (meta.keptShape[i] === 1 ? 0 : s));
  return wrap(g.backend.kernels.gatherStrided(g.storage, { shape: meta.inShape, strides, offset: 0 }), meta.inShape);
}

/**
 * Forward: y = Σ over axes of x (keepdim keeps them as size 1).
 * Backward: dx = g broadcast back over the reduced axes.
 * Saves: nothing (shapes only).
 */
export class Sum extends Function {
  static override readonly opName = 'sum';
  static override forward(ctx: Context<ReduceMeta>, x: Tensor, axes: Axes, keepdim: boolean): Tensor {
    checkFloat(this.opName, x);
    const ax = resolveAxes(this.opName, axes, x.rank, x);
    const { storage, keptShape } = reduceAxes('sum', x, ax);
    ctx.meta = { inShape: x.shape, keptShape };
    return wrap(storage, outShape(keptShape, ax, keepdim));
  }
  static override backward(ctx: Context<ReduceMeta>, g: Tensor) {
    return [expandBack(g, ctx.meta)];
  }
}

/**
 * Forward: y = max over axes of x.
 * Backward: dx = g where x equals the max, split evenly between ties (as numpy's gradient of amax).
 * Saves: x and y.
 */
export class Max extends Function {
  static override readonly opName = 'max';
  static override forward(ctx: Context<ReduceMeta>, x: Tensor, axes: Axes, keepdim: boolean): Tensor {
    checkFloat(this.opName, x);
    const ax = resolveAxes(this.opName, axes, x.rank, x);
    if (ax.some((a) => x.shape[a] === 0)) fail(this.opName, `cannot take the max over an empty axis of ${describe('x', x)}; expected every reduced axis to have size ≥ 1`);
    const { storage, keptShape } = reduceAxes('max', x, ax);
    ctx.meta = { inShape: x.shape, keptShape };
    const y = wrap(storage, outShape(keptShape, ax, keepdim));
    ctx.saveForBackward(x, y);
    return y;
  }
  static override backward(ctx: Context<ReduceMeta>, g: Tensor) {
    const [x, y] = ctx.savedTensors as [Tensor, Tensor];
    const { keptShape } = ctx.meta;
    const isMax = eq(x, reshape(y, keptShape)); // [inShape], 1 at the maxima
    const ties = sum(isMax, collapsedAxes(ctx.meta), true); // [keptShape]
    return [mul(isMax, expandBack(div(reshape(g, keptShape), ties), ctx.meta))];
  }
}

/** The axes a reduction collapsed: where the kept shape is 1 but the input was not. */
function collapsedAxes(meta: ReduceMeta): number[] {
  return meta.keptShape.flatMap((d, i) => (d === 1 && meta.inShape[i] !== 1 ? [i] : []));
}

export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return Sum.apply(x, axes, keepdim);
}

export function max(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return Max.apply(x, axes, keepdim);
}

/** Mean over axes = sum / (number of elements reduced). */
export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const ax = resolveAxes('mean', axes, x.rank, x);
  const count = sizeOf(ax.map((a) => x.shape[a]!));
  const total = sum(x, ax, keepdim);
  const m = div(total, count);
  total.dispose(); // the division's context keeps what backward needs
  return m;
}
