/** What the kernel modules need from the backend, and launch-size helpers shared by them. */
import type { Kernels, Storage } from '../../backend.ts';
import { BYTES_PER_ELEMENT, type DType } from '../../../dtype.ts';
import { grid, type Launch } from '../gpu-context.ts';
import type { PlanOptions } from './matmul-plan.ts';

export interface Gpu {
  /** A new storage of `size` elements (contents undefined); `op` names the kernel in errors. */
  alloc(op: string, dtype: DType, size: number): Storage<GPUBuffer>;
  /**
   * Records a dispatch (runs in queue order; nothing is read back). `outputs`, the storages
   * allocated for it, are released if the launch is refused (e.g. a loop too long for llvmpipe).
   */
  run(launch: Launch, outputs?: readonly Storage[]): void;
  /** A small buffer bound where a kernel's optional input is absent (never read). */
  readonly placeholder: GPUBuffer;
  /** All kernels, for kernels built from others (layerNormGrad's column sums use reduce). */
  readonly kernels: Kernels;
  /** The adapter's kind, workgroup target and loop cap, from which matmul plans its launches. */
  readonly matmulPlan: PlanOptions;
}

/** The GPUBuffer behind a storage of this backend. */
export function buf(s: Storage): GPUBuffer {
  return s.handle as GPUBuffer;
}

/**
 * The u32 words holding `size` elements of dtype: one per float32/int32 element, one per two
 * float16/bfloat16 elements (element 2k in word k's low half, 2k + 1 in its high half).
 */
export function wordsOf(dtype: DType, size: number): number {
  return Math.ceil((size * BYTES_PER_ELEMENT[dtype]) / 4);
}

/** Threads per workgroup of the 1-D kernels (their WGSL default). */
export const WG = 256;

/** The grid of a 1-D launch of `threads` threads with workgroups of `wg`. */
export function grid1d(threads: number, wg = WG): [number, number, number] {
  return grid(Math.ceil(threads / wg));
}

/** Workgroup size for one workgroup per row of `cols` elements: a power of two in [32, 256]. */
export function rowWorkgroup(cols: number): number {
  return Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(Math.max(cols, 1)))));
}

/*
 * Loop budgets (Launch.loops): llvmpipe keeps one counter per invocation, decremented at the end of
 * every pass through any loop body — the pass that exits included — and ends all loops once it
 * reaches 0; so what must stay within its cap is Σ over the loop instances an invocation runs of
 * (iterations + 1), Dawn's zero-init loop of each workgroup array included (⌈size / threads⌉ + 1).
 */

/** Budget of one tree reduction of common.wgsl (wg_sum, wg_max, wg_sum2) over `wg` threads: its halving loop. */
export function treeLoops(wg: number): number {
  return Math.log2(wg) + 1;
}

/**
 * Budget of a row kernel (one workgroup of rowWorkgroup(cols) threads per row of `cols`) that makes
 * `passes` strided passes over the row and `trees` tree reductions; + 2 for zeroing its scratch array.
 */
export function rowLoops(cols: number, passes: number, trees: number): number {
  const wg = rowWorkgroup(cols);
  return passes * (Math.ceil(cols / wg) + 1) + trees * treeLoops(wg) + 2;
}
