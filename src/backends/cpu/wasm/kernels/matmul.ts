/**
 * out [batch, m, n] = alpha·op(a)·op(b) + bias + c on the WebAssembly tier: picks the kernel and the split of C
 * between threads, never along k, so every element of C is summed in the same order whatever the
 * thread count:
 *   - m = 1 or n = 1: the matrix·vector kernels (gen/gemv.ts), no packing;
 *   - else the blocked GEMM (gen/gemm-blocked.ts), kc derived from k alone (the row and column
 *     blocks mc, nc, derived from the whole product, only tile the work);
 *   - batch ≥ threads: whole matrices per thread; else C's rows (in MR granules) when m > n —
 *     each thread packs all of op(B), the small operand then — or C's columns (in NR granules),
 *     e.g. m = 16 for (XA)ᵀ·dY, where each thread packs only its own columns of dY.
 * The epilogue, if any, is a second pass over C's rows (gen/epilogue.ts), split by rows; C is
 * still in cache for small products, and for the LoRA up product (k = r) it reads c once.
 */
import type { MatmulEpilogue, MatmulParams, Storage } from '../../../backend.ts';
import { F32, F64 } from '../asm/precision.ts';
import { BLOCKING, tileOf } from '../gen/module.ts';
import { TRANS_A, TRANS_B } from '../gen/gemm-blocked.ts';
import { rowSplit, type Split } from '../runtime/runtime.ts';
import { Operands, type WasmCpu } from './operands.ts';

/** A kernel call for the whole product, and its splits by batch and by C's rows or columns. */
interface Plan {
  name: string;
  args: number[];
  byBatch: Split;
  inside: Split;
}

/**
 * Splits `total` into equal blocks of at most `max` (a multiple of `unit`), rounded up to a
 * multiple of `unit`: k = 257 runs as 129 + 128, not 256 + 1.
 */
function blockSize(total: number, max: number, unit: number): number {
  const blocks = Math.max(1, Math.ceil(total / max));
  return Math.max(unit, Math.ceil(total / blocks / unit) * unit);
}

/** gemm_<p>(a, b, c, m, n, k, lda, ldb, ldc, flags, kcStep, ncStep, mcStep, scratch, batch, aBatch, bBatch, cBatch). */
function gemmPlan(p: MatmulParams, B: 4 | 8, a: number, b: number, c: number): Plan {
  const { m, n, k, transA, transB } = p, prec = B === 4 ? F32 : F64, blocking = BLOCKING[prec.name], { MR, NR } = tileOf(prec);
  const lda = transA ? m : k, ldb = transB ? k : n;
  const args = [
    a, b, c, m, n, k, lda, ldb, n, (transA ? TRANS_A : 0) | (transB ? TRANS_B : 0),
    blockSize(k, blocking.kc, 1), blockSize(n, blocking.nc, NR), blockSize(m, blocking.mc, MR), 0, p.batch, p.aBatchStride, p.bBatchStride, m * n,
  ];
  const byRows = m > n;
  return {
    name: `gemm_${prec.name}`,
    args,
    byBatch: { extent: p.batch, granule: 1, count: 14, pointers: [[0, p.aBatchStride * B], [1, p.bBatchStride * B], [2, m * n * B]], scratch: 13 },
    inside: byRows
      ? { extent: m, granule: MR, count: 3, pointers: [[0, (transA ? 1 : lda) * B], [2, n * B]], scratch: 13 }
      : { extent: n, granule: NR, count: 4, pointers: [[1, (transB ? ldb : 1) * B], [2, B]], scratch: 13 },
  };
}

/**
 * dots/axpy args (M, ldm, v, out, count, k, batch, mBatch, vBatch, outBatch):
 *   m = 1, B [n, k]: out = C row, dots over B's rows;   m = 1, B [k, n]: axpy over B's rows
 *   n = 1, A [m, k]: out = C column, dots over A's rows; n = 1, A [k, m]: axpy over A's rows
 * A vector operand is contiguous whatever its transpose flag (a [1, k] and a [k, 1] are one row).
 */
function gemvPlan(p: MatmulParams, B: 4 | 8, a: number, b: number, c: number): Plan {
  const rowVector = p.m === 1;
  const dots = rowVector ? p.transB : !p.transA;
  const count = rowVector ? p.n : p.m;
  const ldm = rowVector ? (p.transB ? p.k : p.n) : (p.transA ? p.m : p.k);
  const [M, v, mBatch, vBatch] = rowVector ? [b, a, p.bBatchStride, p.aBatchStride] : [a, b, p.aBatchStride, p.bBatchStride];
  return {
    name: `${dots ? 'dots' : 'axpy'}_${B === 4 ? 'f32' : 'f64'}`,
    args: [M, ldm, v, c, count, p.k, p.batch, mBatch, vBatch, count],
    byBatch: { extent: p.batch, granule: 1, count: 6, pointers: [[0, mBatch * B], [2, vBatch * B], [3, count * B]] },
    // dots: 4 rows at a time; axpy: column chunks a few vectors wide
    inside: { extent: count, granule: dots ? 4 : (6 * 16) / B, count: 4, pointers: [[0, (dots ? ldm : 1) * B], [3, B]] },
  };
}

/** Work per element of the epilogue pass, in matmul flops of the same time (a memory-bound pass). */
const EPILOGUE_WORK = 4;

/**
 * The product on the WebAssembly tier, or null (the caller runs the JavaScript kernel) for a dtype
 * it has no kernel for, or where the heap is full.
 */
export function wasmMatmul(cpu: WasmCpu, a: Storage, b: Storage, p: MatmulParams, epi: MatmulEpilogue = {}): Storage | null {
  const { rt } = cpu, dtype = a.dtype, { alpha = 1, bias = null, c = null } = epi;
  if ((dtype !== 'float32' && dtype !== 'float64') || b.dtype !== dtype || (bias && bias.dtype !== dtype) || (c && c.dtype !== dtype)) return null;
  const ops = new Operands(cpu);
  const pa = ops.input(a), pb = ops.input(b), pBias = bias ? ops.input(bias) : 0, pC = c ? ops.input(c) : 0;
  const pc = ops.output(dtype, p.batch * p.m * p.n);
  // every thread's packing scratch, before the call (workers may become ready meanwhile: the split keeps to these)
  const threads = rt.available();
  for (let t = 0; t < threads; t++) if (!rt.scratch(t)) ops.ok = false;
  if (!ops.ok) return ops.abandon();
  if (p.batch > 0 && p.m > 0 && p.n > 0) {
    const B = dtype === 'float32' ? 4 : 8;
    const plan = p.m === 1 || p.n === 1 ? gemvPlan(p, B, pa, pb, pc) : gemmPlan(p, B, pa, pb, pc);
    const split = p.batch >= threads ? plan.byBatch : plan.inside;
    split.threads = threads;
    rt.run(plan.name, plan.args, 2 * p.batch * p.m * p.n * p.k, split);
    if (alpha !== 1 || bias || c) {
      // epilogue_<p>(out, bias, c, rows, n, alpha) over every batch matrix's rows at once
      const rows = p.batch * p.m, args = [pc, pBias, pC, rows, p.n, alpha];
      rt.run(`epilogue_${dtype === 'float32' ? 'f32' : 'f64'}`, args, rows * p.n * EPILOGUE_WORK, rowSplit(args, 3, c ? [[0, p.n * B], [2, p.n * B]] : [[0, p.n * B]]));
    }
  }
  return ops.finish()[0]!;
}
