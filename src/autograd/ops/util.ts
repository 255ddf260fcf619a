import type { Storage } from '../../backends/backend.ts';
import { isFloat } from '../../dtype.ts';
import { describe, fail } from '../../errors.ts';
import { sameShape, sizeOf } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { isTensor, newTensor } from '../tensor-class.ts';

/** Wraps a kernel's output storage as a new tensor. */
export function wrap(storage: Storage, shape: readonly number[]): Tensor {
  return newTensor(storage, shape);
}

/**
 * A new tensor sharing t's storage with another shape of the same size (no copy). A view of a
 * weight is marked a parameter too: saving it holds no new memory.
 */
export function view(t: Tensor, shape: readonly number[]): Tensor {
  t.storage.retain();
  const v = wrap(t.storage, shape);
  v.isParameter = t.isParameter;
  return v;
}

/** t [..., f] as a 2-D [rows, f] view (no copy). */
export function rows2d(t: Tensor, f: number): Tensor {
  return view(t, [f === 0 ? 0 : t.size / f, f]);
}

/** t's storage under another shape of the same size; disposes the handle t. */
export function reshaped(t: Tensor, shape: readonly number[]): Tensor {
  const v = view(t, shape);
  t.dispose();
  return v;
}

export function checkFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (!isFloat(t.dtype)) fail(op, `${describe('input', t)} is not floating point; expected float32, float64, float16 or bfloat16`);
  }
}

export function checkSameDtype(op: string, a: Tensor, b: Tensor): void {
  checkFloat(op, a, b);
  if (a.dtype !== b.dtype) {
    fail(op, `dtypes differ: ${describe('a', a)} and ${describe('b', b)}; expected the same dtype (cast one with ops.cast)`);
  }
}

/** A tensor, or a number standing for a constant. */
export type Operand = Tensor | number;

/** A number becomes a rank-0 constant of like's dtype and device; a tensor is returned as is. */
export function asTensor(v: Operand, like: Tensor): Tensor {
  if (isTensor(v)) return v;
  return wrap(like.backend.kernels.full(like.dtype, 1, v), []);
}

/**
 * Runs an op on two operands, at least one a tensor: a number becomes a rank-0 constant of the
 * tensor operand's dtype and device, disposed afterwards (an op that saved it holds its own reference).
 */
export function withOperands<T>(op: string, a: Operand, b: Operand, run: (a: Tensor, b: Tensor) => T): T {
  for (const [name, v] of [['a', a], ['b', b]] as const) {
    if (!isTensor(v) && typeof v !== 'number') {
      fail(op, `operand ${name} is ${Array.isArray(v) ? 'an array' : typeof v}; expected a tensor or a number (make arrays tensors with tensor(...))`);
    }
  }
  if (!isTensor(a) && !isTensor(b)) fail(op, `both operands are numbers (${a}, ${b}); expected at least one tensor`);
  const like = (isTensor(a) ? a : b) as Tensor;
  const ta = asTensor(a, like), tb = asTensor(b, like);
  try {
    return run(ta, tb);
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}

/**
 * Sums a broadcast gradient back to the shape of the operand it flows to: reduces the leading
 * axes that broadcasting added and the axes where the operand had size 1. Returns g itself
 * when nothing needs reducing.
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const cur = [...g.shape];
  let s = g.storage;
  // reduce from the last axis so the [outer, len, inner] split of earlier axes stays valid
  for (let ax = g.rank - 1; ax >= 0; ax--) {
    const want = ax < lead ? 1 : shape[ax - lead]!;
    if (want !== 1 || cur[ax] === 1) continue;
    const next = g.backend.kernels.reduce('sum', s, sizeOf(cur.slice(0, ax)), cur[ax]!, sizeOf(cur.slice(ax + 1)));
    if (s !== g.storage) s.release();
    s = next;
    cur[ax] = 1;
  }
  return s === g.storage ? view(g, shape) : wrap(s, shape); // only size-1 axes differed: a view of g
}
