import { describe, fail, fmtShape } from './errors.ts';

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
  return out;
}

/** Resolves a possibly negative axis against a rank, or throws naming the op (and the tensor, when given). */
export function normalizeAxis(op: string, axis: number, rank: number, t?: { shape: Shape; dtype: string; device: string }): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    const what = t ? describe('x', t) : 'a tensor';
    fail(op, `axis ${axis} is out of range for ${what} of rank ${rank}; expected an integer in [${-rank}, ${Math.max(rank - 1, 0)}]`);
  }
  return axis < 0 ? axis + rank : axis;
}

export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) fail(op, `invalid shape ${fmtShape(shape)}: sizes must be non-negative integers`);
  }
}

/** Shape of a nested array (a number is rank 0); throws, naming op, on ragged nesting or non-numbers. */
export function nestedShape(op: string, data: NestedArray): number[] {
  const shape: number[] = [];
  let v: NestedArray = data;
  while (Array.isArray(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0]!;
  }
  const check = (x: NestedArray, axis: number, path: string): void => {
    if (axis === shape.length) {
      if (typeof x !== 'number') fail(op, `element ${path || '(root)'} is ${JSON.stringify(x)}; expected a number`);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[axis]) {
      fail(op, `ragged nested array: element ${path || '(root)'} has ${Array.isArray(x) ? `length ${x.length}` : 'no length'} ` +
        `but axis ${axis} has length ${shape[axis]}; expected a rectangular array of shape ${fmtShape(shape)}`);
    }
    x.forEach((y, i) => check(y, axis + 1, `${path}[${i}]`));
  };
  check(data, 0, '');
  return shape;
}
