/**
 * out [batch, m, n] = op(a)·op(b) on the WebAssembly tier: picks the kernel and the split of C
 * between threads, never along k, so every element of C is summed in the same order whatever the
 * thread count:
 *   - m = 1 or n = 1: the matrix·vector kernels (gen/gemv.ts), no packing;
 *   - else the blocked GEMM (gen/gemm-blocked.ts), kc derived from k alone;
 *   - batch ≥ threads: whole matrices per thread; else C's rows (in MR granules) when m > n —
 *     each thread packs all of op(B), the small operand then — or C's columns (in NR granules),
 *     e.g. m = 16 for (XA)ᵀ·dY, where each thread packs only its own columns of dY.
 */
import type { MatmulParams, Storage } from '../../../backend.ts';
import { F32, F64 } from '../asm/precision.ts';
import { BLOCKING, tileOf } from '../gen/module.ts';
import { TRANS_A, TRANS_B } from '../gen/gemm-blocked.ts';
import type { Split, WasmRuntime } from '../runtime/runtime.ts';
import { Operands, type WasmCpu } from './operands.ts';

/** A kernel call for the whole product and how to narrow it to a range of C's rows or columns. */
interface Plan {
  name: string;
  args: number[];
  extent: number;
  granule: number;
  narrow(args: number[], lo: number, hi: number): number[];
  /** Index of the batch count, of the batch-advanced pointers [arg, bytes per matrix], of the scratch (−1: none). */
  batchArg: number;
  batchPointers: [number, number][];
  scratchArg: number;
}

interface Product extends MatmulParams {
  bytes: 4 | 8;
  a: number;
  b: number;
  c: number;
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
function gemmPlan(s: Product): Plan {
  const { m, n, k, bytes: B } = s, p = B === 4 ? F32 : F64, blocking = BLOCKING[p.name], { MR, NR } = tileOf(p);
  const lda = s.transA ? m : k, ldb = s.transB ? k : n;
  const flags = (s.transA ? TRANS_A : 0) | (s.transB ? TRANS_B : 0);
  const withSteps = (x: number[]): number[] => {
    x[11] = blockSize(x[4]!, blocking.nc, NR);
    x[12] = blockSize(x[3]!, blocking.mc, MR);
    return x;
  };
  const byRows = m > n;
  return {
    name: `gemm_${p.name}`,
    args: withSteps([s.a, s.b, s.c, m, n, k, lda, ldb, n, flags, blockSize(k, blocking.kc, 1), 0, 0, 0, s.batch, s.aBatchStride, s.bBatchStride, m * n]),
    extent: byRows ? m : n,
    granule: byRows ? MR : NR,
    narrow(x, lo, hi) {
      const y = x.slice();
      if (byRows) {
        y[0] = x[0]! + (s.transA ? lo : lo * lda) * B;
        y[2] = x[2]! + lo * n * B;
        y[3] = hi - lo;
      } else {
        y[1] = x[1]! + (s.transB ? lo * ldb : lo) * B;
        y[2] = x[2]! + lo * B;
        y[4] = hi - lo;
      }
      return withSteps(y);
    },
    batchArg: 14,
    batchPointers: [[0, s.aBatchStride * B], [1, s.bBatchStride * B], [2, m * n * B]],
    scratchArg: 13,
  };
}

/**
 * dots/axpy args (M, ldm, v, out, count, k, batch, mBatch, vBatch, outBatch):
 *   m = 1, B [n, k]: out = C row, dots over B's rows;   m = 1, B [k, n]: axpy over B's rows
 *   n = 1, A [m, k]: out = C column, dots over A's rows; n = 1, A [k, m]: axpy over A's rows
 * A vector operand is contiguous whatever its transpose flag (a [1, k] and a [k, 1] are one row).
 */
function gemvPlan(s: Product): Plan {
  const B = s.bytes, p = B === 4 ? 'f32' : 'f64';
  const rowVector = s.m === 1;
  const dots = rowVector ? s.transB : !s.transA;
  const count = rowVector ? s.n : s.m;
  const ldm = rowVector ? (s.transB ? s.k : s.n) : (s.transA ? s.m : s.k);
  const [M, v, mBatch, vBatch] = rowVector ? [s.b, s.a, s.bBatchStride, s.aBatchStride] : [s.a, s.b, s.aBatchStride, s.bBatchStride];
  return {
    name: `${dots ? 'dots' : 'axpy'}_${p}`,
    args: [M, ldm, v, s.c, count, s.k, s.batch, mBatch, vBatch, count],
    extent: count,
    // dots: 4 rows at a time; axpy: column chunks a few vectors wide
    granule: dots ? 4 : (6 * 16) / B,
    narrow(x, lo, hi) {
      const y = x.slice();
      y[0] = x[0]! + (dots ? lo * ldm : lo) * B;
      y[3] = x[3]! + lo * B;
      y[4] = hi - lo;
      return y;
    },
    batchArg: 6,
    batchPointers: [[0, mBatch * B], [2, vBatch * B], [3, count * B]],
    scratchArg: -1,
  };
}

/** Whole batch matrices per thread when there are enough of them, else ranges of C's rows or columns. */
function splitOf(rt: WasmRuntime, plan: Plan, batch: number, threads: number): Split {
  const scratch = (x: number[], t: number): number[] => {
    if (plan.scratchArg >= 0) x[plan.scratchArg] = rt.scratch(t);
    return x;
  };
  if (batch >= threads) {
    return {
      extent: batch,
      granule: 1,
      threads,
      part(lo, hi, t) {
        const x = plan.args.slice();
        x[plan.batchArg] = hi - lo;
        for (const [i, stride] of plan.batchPointers) x[i] = plan.args[i]! + lo * stride;
        return scratch(x, t);
      },
    };
  }
  return { extent: plan.extent, granule: plan.granule, threads, part: (lo, hi, t) => scratch(plan.narrow(plan.args, lo, hi), t) };
}

/** The product on the WebAssembly tier, or null (the caller runs the JavaScript kernel) where the heap is full. */
export function wasmMatmul(cpu: WasmCpu, a: Storage, b: Storage, p: MatmulParams): Storage | null {
  const { rt } = cpu, dtype = a.dtype;
  if ((dtype !== 'float32' && dtype !== 'float64') || b.dtype !== dtype) return null;
  const ops = new Operands(cpu);
  const s: Product = { ...p, bytes: dtype === 'float32' ? 4 : 8, a: ops.input(a), b: ops.input(b), c: ops.output(dtype, p.batch * p.m * p.n) };
  // every thread's packing scratch, before any part is made (workers may become ready meanwhile: the split keeps to these)
  const threads = rt.available();
  for (let t = 0; t < threads; t++) if (!rt.scratch(t)) ops.ok = false;
  if (!ops.ok) return ops.abandon();
  if (p.batch > 0 && p.m > 0 && p.n > 0) {
    const plan = p.m === 1 || p.n === 1 ? gemvPlan(s) : gemmPlan(s);
    rt.run(plan.name, plan.args, 2 * p.batch * p.m * p.n * p.k, splitOf(rt, plan, p.batch, threads));
  }
  return ops.finish()[0]!;
}
