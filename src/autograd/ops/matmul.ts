import type { MatmulEpilogue, Storage } from '../../backends/backend.ts';
import { describe, describeValue, fail, fmtShape } from '../../errors.ts';
import { broadcastShapes, checkElements, contiguousStrides, sameShape, sizeOf } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { Function, type Context } from '../function.ts';
import { checkSameDtype, sumToShape, view, wrap } from './util.ts';
import { autocastOp } from '../autocast.ts';

export interface MatmulFlags {
  /** Use aᵀ (a's last two axes swapped) without copying a. */
  transA?: boolean;
  transB?: boolean;
}

interface MatmulMeta {
  transA: boolean;
  transB: boolean;
  aShape: readonly number[];
  bShape: readonly number[];
}

/** [.., rows, cols] of op(t): the logical matrix shape after the optional transpose. */
function logical(t: Tensor, trans: boolean): [number, number] {
  const r = t.shape[t.rank - 2]!, c = t.shape[t.rank - 1]!;
  return trans ? [c, r] : [r, c];
}

/** What a product adds in the same kernel pass: alpha·op(a)·op(b) + bias + c. */
export interface Epilogue {
  /** Scales the product (default 1). */
  alpha?: number;
  /** [n], added to every row. */
  bias?: Tensor | null;
  /** Of the output's shape, added. */
  c?: Tensor | null;
}

/**
 * out = alpha·op(a)·op(b) + bias + c with batch axes broadcast (numpy matmul rules), through the
 * backend's strided-batch kernel. An operand whose batch axes are neither full nor absent is
 * expanded first. When b is a single matrix and a is not transposed, a's batch rows are folded
 * into M: [B, s, d]·[d, o] runs as one [B·s, d]·[d, o] product.
 */
export function matmulRaw(op: string, a: Tensor, b: Tensor, transA: boolean, transB: boolean, epi: Epilogue = {}): Tensor {
  if (a.rank < 2 || b.rank < 2) {
    fail(op, `expected tensors of rank ≥ 2, got ${describe('a', a)} and ${describe('b', b)}; reshape vectors to [1, n] or [n, 1]`);
  }
  checkSameDtype(op, a, b);
  const [m, k] = logical(a, transA);
  const [k2, n] = logical(b, transB);
  if (k !== k2) {
    fail(op, `inner dimensions differ: ${describe('a', a)}${transA ? 'ᵀ' : ''} and ${describe('b', b)}${transB ? 'ᵀ' : ''}; ` +
      `expected op(a).shape[-1] (${k}) = op(b).shape[-2] (${k2})`);
  }
  const aBatch = a.shape.slice(0, -2), bBatch = b.shape.slice(0, -2);
  if (aBatch.some((d, i) => !batchAxisFits(d, bBatch[bBatch.length - aBatch.length + i]))) {
    fail(op, `batch axes ${fmtShape(aBatch)} of ${describe('a', a)} and ${fmtShape(bBatch)} of ${describe('b', b)} cannot be broadcast together; ` +
      'expected equal sizes or 1 on each batch axis');
  }
  const batchShape = broadcastShapes(op, [aBatch, bBatch]);
  const batch = sizeOf(batchShape);
  const kernels = a.backend.kernels;
  const outShape = [...batchShape, m, n];
  checkElements(op, outShape);
  const epilogue = checkEpilogue(op, epi, a, outShape);
  if (b.rank === 2 && !transA) {
    return wrap(kernels.matmul(a.storage, b.storage, { batch: 1, m: sizeOf(aBatch) * m, n, k, transA, transB, aBatchStride: 0, bBatchStride: 0 }, epilogue), outShape);
  }
  const [as, aStride] = batchOperand(a, batchShape);
  const [bs, bStride] = batchOperand(b, batchShape);
  const out = kernels.matmul(as, bs, { batch, m, n, k, transA, transB, aBatchStride: aStride, bBatchStride: bStride }, epilogue);
  if (as !== a.storage) as.release();
  if (bs !== b.storage) bs.release();
  return wrap(out, outShape);
}

/** The kernel's epilogue: bias [n] and c of the output's shape, of a's dtype and device; alpha finite. */
function checkEpilogue(op: string, epi: Epilogue, a: Tensor, outShape: readonly number[]): MatmulEpilogue {
  const { alpha = 1, bias = null, c = null } = epi;
  if (!Number.isFinite(alpha)) fail(op, `alpha = ${alpha}; expected a finite number`);
  const n = outShape[outShape.length - 1]!;
  for (const [name, t, shape] of [['bias', bias, [n]], ['c', c, outShape]] as const) {
    if (t && (!sameShape(t.shape, shape) || t.dtype !== a.dtype || t.device !== a.device)) {
      fail(op, `${describe(name, t)} does not fit the product; expected shape ${fmtShape(shape)}, dtype ${a.dtype} and device ${a.device}`);
    }
  }
  return { alpha, bias: bias?.storage ?? null, c: c?.storage ?? null };
}

/**
 * alpha·op(a)·op(b) + bias + c through the matmul kernel (one pass), not recorded: the flags read
 * a transpose without copying it.
 */
export function mm(a: Tensor, b: Tensor, transA = false, transB = false, epi: Epilogue = {}): Tensor {
  return matmulRaw('matmul', a, b, transA, transB, epi);
}

/** Whether batch sizes d and e (undefined: e's rank is shorter) broadcast together. */
function batchAxisFits(d: number, e: number | undefined): boolean {
  return e === undefined || d === e || d === 1 || e === 1;
}

/** The storage and batch stride to pass for t under batchShape (expanding t's batch axes if needed). */
function batchOperand(t: Tensor, batchShape: number[]): [Storage, number] {
  const tBatch = t.shape.slice(0, -2);
  const matrix = t.shape[t.rank - 2]! * t.shape[t.rank - 1]!;
  if (sizeOf(tBatch) === 1) return [t.storage, 0];
  if (sizeOf(tBatch) === sizeOf(batchShape)) return [t.storage, matrix]; // t has every batch matrix, in order
  const shape = [...batchShape, t.shape[t.rank - 2]!, t.shape[t.rank - 1]!];
  const lead = shape.length - t.rank;
  const ts = contiguousStrides(t.shape);
  const strides = shape.map((_, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : ts[i - lead]!));
  return [t.backend.kernels.gatherStrided(t.storage, { shape, strides, offset: 0 }), matrix];
}

/**
 * Forward: Y = op(A)·op(B), op = identity or transpose (flags), batch axes broadcast.
 * Backward: dA = g·op(B)ᵀ (transposed back if transA), dB = op(A)ᵀ·g (likewise), each summed
 *           over the batch axes its operand was broadcast along.
 * Saves: B only if A needs a gradient, A only if B does — a frozen weight's input is not kept.
 */
export class MatMul extends Function {
  static override readonly opName = 'matmul';
  static override forward(ctx: Context<MatmulMeta>, a: Tensor, b: Tensor, flags: MatmulFlags = {}): Tensor {
    if (flags === null || typeof flags !== 'object') fail(this.opName, `flags is ${describeValue(flags)}; expected { transA?, transB? }`);
    for (const name of ['transA', 'transB'] as const) {
      if (flags[name] !== undefined && typeof flags[name] !== 'boolean') fail(this.opName, `${name} is ${describeValue(flags[name])}; expected true or false`);
    }
    const transA = flags.transA ?? false, transB = flags.transB ?? false;
    const y = matmulRaw(this.opName, a, b, transA, transB);
    ctx.meta = { transA, transB, aShape: a.shape, bShape: b.shape };
    const [na, nb] = ctx.needsInputGrad;
    ctx.saveForBackward(nb ? a : null, na ? b : null);
    return y;
  }
  static override backward(ctx: Context<MatmulMeta>, g: Tensor) {
    const [a, b] = ctx.savedTensors;
    const { transA, transB, aShape, bShape } = ctx.meta;
    // d(op(A)) = g·op(B)ᵀ; if A was used transposed, dA = (g·op(B)ᵀ)ᵀ = op(B)·gᵀ
    const gradA = b && (transA ? matmulRaw('matmul', b, g, transB, true) : matmulRaw('matmul', g, b, false, !transB));
    let gradB: Tensor | null = null;
    if (a && bShape.length === 2 && !transA) {
      // B is one matrix shared by every row of A: dB = A_flatᵀ·g_flat, one [k, B·s]·[B·s, n] product
      const rows = a.size / aShape[aShape.length - 1]!;
      const aFlat = view(a, [rows, aShape[aShape.length - 1]!]), gFlat = view(g, [rows, g.shape[g.rank - 1]!]);
      gradB = transB ? matmulRaw('matmul', gFlat, aFlat, true, false) : matmulRaw('matmul', aFlat, gFlat, true, false);
    } else if (a) {
      // d(op(B)) = op(A)ᵀ·g; if B was used transposed, dB = gᵀ·op(A)
      gradB = transB ? matmulRaw('matmul', g, a, true, transA) : matmulRaw('matmul', a, g, !transA, false);
    }
    return [gradA && sumToShape(gradA, aShape), gradB && sumToShape(gradB, bShape)];
  }
}

export function matmul(a: Tensor, b: Tensor, flags: MatmulFlags = {}): Tensor {
  return autocastOp('lower', [a, b], (ca, cb) => MatMul.apply(ca, cb, flags));
}
