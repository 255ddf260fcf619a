import { describe, describeValue, fail, fmtShape } from './errors.ts';

export type Shape = readonly number[];

/** Nested arrays of numbers, as many levels deep as the tensor's rank (a number for rank 0). */
export type NestedArray = number | NestedArray[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides: the last axis is contiguous. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Collapses the axes of an iteration over `shape` in which every operand k steps by
 * operandStrides[k][j] along axis j: size-1 axes are dropped, and an axis is merged into the one
 * before it when every operand walks both contiguously (stride[prev] = stride[cur]·size[cur]).
 * So [N, d] + [d] becomes N rows of length d and x + 1 a single row. Returns the collapsed shape
 * (possibly []: one element) and each operand's strides along it. Used by the CPU's row loops and
 * by the WebGPU kernels, which walk at most a few axes.
 */
export function collapseAxes(shape: Shape, operandStrides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const out: number[] = [];
  const strides: number[][] = operandStrides.map(() => []);
  shape.forEach((n, j) => {
    if (n === 1) return;
    const last = out.length - 1;
    if (last >= 0 && operandStrides.every((s, k) => strides[k]![last] === s[j]! * n)) {
      out[last]! *= n;
      operandStrides.forEach((s, k) => (strides[k]![last] = s[j]!));
    } else {
      out.push(n);
      operandStrides.forEach((s, k) => strides[k]!.push(s[j]!));
    }
  });
  return { shape: out, strides };
}

/** Strides of an operand of shape inShape read as outShape (right-aligned, 0 where broadcast). */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let s = 1;
  for (let i = inShape.length - 1, j = outShape.length - 1; i >= 0; i--, j--) {
    strides[j] = inShape[i] === 1 ? 0 : s;
    s *= inShape[i]!;
  }
  return strides;
}

/** numpy broadcasting: shapes are right-aligned; each axis pair must be equal or contain a 1. */
export function broadcastShapes(op: string, shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (let j = 1; j <= rank; j++) {
    for (const s of shapes) {
      const d = s.length - j >= 0 ? s[s.length - j]! : 1;
      const cur = out[rank - j]!;
      if (d === cur || d === 1) continue;
      if (cur === 1) out[rank - j] = d;
      else {
        fail(op, `shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together: ` +
          `axis ${-j} has sizes ${cur} and ${d}; expected equal sizes or 1`);
      }
    }
  }
  checkElements(op, out);
  return out;
}

/** Resolves a possibly negative axis against a rank (a rank-0 tensor takes 0 or −1, as in PyTorch), or throws naming the op (and the tensor, when given). */
export function normalizeAxis(op: string, axis: number, rank: number, t?: { shape: Shape; dtype: string; device: string }): number {
  const n = Math.max(rank, 1);
  if (!Number.isInteger(axis) || axis < -n || axis >= n) {
    const what = t ? describe('x', t) : 'a tensor';
    fail(op, `axis ${typeof axis === 'number' ? axis : describeValue(axis)} is out of range for ${what} of rank ${rank}; expected an integer in [${-n}, ${n - 1}]`);
  }
  return axis < 0 ? axis + n : axis;
}

/** The most elements one tensor may hold: the kernels index with 32-bit integers (8 GiB of float32). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Throws, naming op, unless shape is a list of non-negative integers with at most MAX_ELEMENTS elements in all. */
export function checkShape(op: string, shape: Shape): void {
  if (!Array.isArray(shape)) fail(op, `shape is ${describeValue(shape)}; expected a list of sizes`);
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) fail(op, `invalid shape [${shape.map((v) => (typeof v === 'number' ? v : describeValue(v))).join(', ')}]: sizes must be non-negative integers`);
  }
  checkElements(op, shape);
}

/** Throws, naming op, if a tensor of shape would hold more than MAX_ELEMENTS elements. */
export function checkElements(op: string, shape: Shape): void {
  const n = sizeOf(shape);
  if (n > MAX_ELEMENTS) fail(op, `shape ${fmtShape(shape)} has ${n} elements; expected at most ${MAX_ELEMENTS} (the kernels index with 32-bit integers)`);
}

/** Throws unless v is a positive integer: a layer's size, named `name`. */
export function checkPositiveInt(op: string, name: string, v: unknown): void {
  if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= MAX_ELEMENTS)) {
    fail(op, `${name} is ${describeValue(v)}; expected a positive integer (at most ${MAX_ELEMENTS})`);
  }
}

/** The most axes a tensor made from nested arrays may have (as PyTorch's 64 dimensions). */
export const MAX_NESTED_RANK = 64;

/** Flat index i of shape written as a position: `3` at rank ≤ 1, `[1, 0]` above. */
export function formatPosition(i: number, shape: readonly number[]): string {
  if (shape.length <= 1) return String(i);
  const idx = shape.map(() => 0);
  for (let a = shape.length - 1; a >= 0; a--) {
    idx[a] = i % shape[a]!;
    i = Math.floor(i / shape[a]!);
  }
  return `[${idx.join(', ')}]`;
}

/**
 * The shape of nested arrays (a number is rank 0) and their numbers in row-major order. Throws,
 * naming op and the element's position, on ragged nesting, holes (`[1, , 3]`), anything that is
 * not a number, or more than MAX_NESTED_RANK levels.
 */
export function flattenNested(op: string, data: unknown): { shape: number[]; values: number[] } {
  const shape: number[] = [];
  for (let v = data; Array.isArray(v); v = v[0]) {
    if (shape.length === MAX_NESTED_RANK) fail(op, `nested arrays more than ${MAX_NESTED_RANK} levels deep; expected at most ${MAX_NESTED_RANK} axes`);
    shape.push(v.length);
    if (v.length === 0) break;
  }
  const values: number[] = [];
  const visit = (x: unknown, axis: number, path: string): void => {
    if (axis === shape.length) {
      if (typeof x !== 'number') fail(op, `element ${path || '(root)'} is ${describeValue(x)}; expected a number`);
      values.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[axis]) {
      fail(op, `ragged nested array: element ${path || '(root)'} has ${Array.isArray(x) ? `length ${x.length}` : 'no length'} ` +
        `but axis ${axis} has length ${shape[axis]}; expected a rectangular array of shape ${fmtShape(shape)}`);
    }
    for (let i = 0; i < x.length; i++) {
      if (!(i in x)) fail(op, `element ${path}[${i}] is a hole (an array like [1, , 3]); expected a number`);
      visit(x[i], axis + 1, `${path}[${i}]`);
    }
  };
  visit(data, 0, '');
  return { shape, values };
}

const INT32_MIN = -(2 ** 31), INT32_MAX = 2 ** 31 - 1;

/**
 * Throws, naming op and the position in shape, at the first value a tensor of dtype cannot hold.
 * int32 holds the integers in [−2³¹, 2³¹ − 1]: a value outside (±∞ and NaN included) is refused,
 * as PyTorch refuses an overflow; a fraction inside is truncated toward zero, as PyTorch does.
 * Float dtypes hold every number (NaN and ±∞ included). `what` names the values ('value', 'index').
 */
export function checkValues(op: string, values: ArrayLike<number>, dtype: string, shape: readonly number[], what = 'value'): void {
  if (dtype !== 'int32') return;
  for (let i = 0; i < values.length; i++) {
    const v = Math.trunc(values[i]!);
    if (!(v >= INT32_MIN && v <= INT32_MAX)) {
      fail(op, `${what} ${values[i]} at position ${formatPosition(i, shape)} does not fit int32; expected a number in [${INT32_MIN}, ${INT32_MAX}]`);
    }
  }
}
