/**
 * Which matmul kernel runs a product, and how (the analogue of tfjs-webgpu's program selection in
 * BatchMatMul_impl), and llvmpipe's loop budget of each launch.
 *
 * 1. vec4 global access when every stored row length and batch stride is a multiple of 4
 *    (vec4Ok), else the f32 twins of the same tilings.
 * 2. An output of at most SMALL × SMALL (64 × 64) → 32×32 tiles: a few workgroups whatever the
 *    tile, and the kernel cheapest to compile (llvmpipe compiles a pipeline in 0.5 s for it, up to
 *    8 s for the largest variants). Else n ≤ THIN (16) → a thin-N kernel (X·A, dY·Bᵀ at LoRA rank
 *    ≤ 16); else m ≤ THIN → thin-M ((XA)ᵀ·dY); else the largest general tile that still gives
 *    ≥ targetGroups workgroups and is at most half empty along m and n (m > BM/2, n > BN/2); when
 *    none does, the tile with the most workgroups.
 * 3. Split-K when that leaves fewer than targetGroups workgroups and k ≥ 2·MIN_CHUNK: k is cut into
 *    splits = min(⌈targetGroups / groups⌉, ⌊k / MIN_CHUNK⌋, MAX_SPLITS) chunks (each a multiple of
 *    TILE_K), written to a [batch·splits, m, n] scratch buffer and added in order by matmul-reduce
 *    (deterministic, no atomics), which applies the epilogue. MIN_CHUNK = 256 keeps ≥ 512 flops per
 *    partial float written and read back.
 * 4. llvmpipe's loop cap is met by splitting further.
 *
 * Adapter kinds: on a GPU, targetGroups = 128 (a few workgroups per SM of a large part; tfjs's
 * "few workgroups" threshold is 8–16 tiles of 32×32) and tiles of at most 8×8 outputs per thread
 * (registers, occupancy); on llvmpipe, which runs each workgroup on one CPU thread, 2 per thread,
 * and the 8×16-per-thread tile (a workgroup-memory read costs ~10 FMAs there) and direct-operand
 * thin kernels. The GPU figures are reasoned from the hardware, not measured here.
 */
import type { MatmulParams } from '../../backend.ts';
import { MAX_GROUPS } from '../gpu-context.ts';
import { tiling, variant, type Variant } from './matmul-wgsl.ts';

export type AdapterKind = 'llvmpipe' | 'gpu';

export interface Plan {
  variant: Variant;
  /** k is cut into `splits` chunks of kChunk (a multiple of TILE_K); 1: no split-K. */
  splits: number;
  kChunk: number;
  /** Every tile full (no bounds checks). */
  aligned: boolean;
  /** Why this kernel, in words (for tests and the benchmark). */
  reason: string;
}

export interface PlanOptions {
  kind: AdapterKind;
  /** Workgroups wanted in flight. */
  targetGroups: number;
  /** The adapter's loop budget per invocation (llvmpipe 65535; Infinity elsewhere). */
  maxLoop: number;
}

/** Outputs along n (or m) up to which a thin kernel is chosen. */
export const THIN = 16;
/** Outputs along both m and n up to which 32×32 tiles are chosen. */
export const SMALL = 64;
/** Least k per split. */
export const MIN_CHUNK = 256;
export const MAX_SPLITS = 32;

/** Workgroups in flight worth aiming for: 128 on a GPU; 2 per CPU thread on llvmpipe. */
export function targetGroups(kind: AdapterKind, cpuThreads: number): number {
  return kind === 'gpu' ? 128 : 2 * cpuThreads;
}

/** vec4 global access needs every stored row length and batch stride to be a multiple of 4. */
export function vec4Ok(p: MatmulParams): boolean {
  return p.n % 4 === 0 && (p.transA ? p.m % 4 === 0 : p.k % 4 === 0) && (!p.transB || p.k % 4 === 0) &&
    p.aBatchStride % 4 === 0 && p.bBatchStride % 4 === 0;
}

/** Workgroups of a plan's tiled pass. */
export function groupsOf(p: MatmulParams, v: Variant, splits: number): [number, number, number] {
  const { BM, BN } = tiling(v);
  return [Math.ceil(p.n / BN), Math.ceil(p.m / BM), Math.min(p.batch * splits, MAX_GROUPS)];
}

/**
 * The loop budget of one invocation of a tiled kernel: llvmpipe keeps one counter per invocation,
 * decremented at the end of every pass through any loop body (the exiting pass included), and ends
 * every loop once it reaches 0 — so Σ over loop instances of (iterations + 1) must stay ≤ 65535:
 *   z loop      zIter + 1, zIter = ⌈zCount / min(zCount, 65535)⌉
 *   k loop      zIter·(⌈kChunk / TILE_K⌉ + 1)
 *   zero-init   ⌈size / threads⌉ + 1 for each of As and Bs (Dawn's workgroup-memory zeroing)
 * (everything else is unrolled). Measured tight on llvmpipe: exact up to 3 above the true count.
 */
export function tiledLoops(p: MatmulParams, v: Variant, splits: number, kChunk: number): number {
  const t = tiling(v);
  const zCount = p.batch * splits;
  const zIter = zCount === 0 ? 0 : Math.ceil(zCount / Math.min(zCount, MAX_GROUPS));
  return zIter + 1 + zIter * (Math.ceil(kChunk / v.TILE_K) + 1) + Math.ceil(t.AS_SIZE / t.THREADS) + 1 + Math.ceil(t.BS_SIZE / t.THREADS) + 1;
}

/** A plan that runs variant v with (about) `splits` chunks of k (reason: 'forced'). */
export function planFor(p: MatmulParams, v: Variant, splits = 1): Plan {
  const { BM, BN } = tiling(v);
  const kChunk = splits > 1 ? Math.ceil(Math.ceil(p.k / splits) / v.TILE_K) * v.TILE_K : p.k;
  const real = splits > 1 && kChunk > 0 ? Math.ceil(p.k / kChunk) : 1;
  const chunk = real > 1 ? kChunk : p.k;
  const aligned = p.m % BM === 0 && p.n % BN === 0 && p.k % v.TILE_K === 0 && chunk % v.TILE_K === 0;
  return { variant: v, splits: real, kChunk: chunk, aligned, reason: 'forced' };
}

/** General tiles, largest first, per adapter kind; and the f32 twins. */
const GENERAL: Record<AdapterKind, readonly string[]> = {
  gpu: ['matmul-128x128', 'matmul-64x64', 'matmul-32x32'],
  llvmpipe: ['matmul-64x128', 'matmul-64x64', 'matmul-32x32'],
};
const GENERAL_SCALAR = ['matmul-f32-64x64', 'matmul-f32-32x32'];

export function chooseMatmul(p: MatmulParams, o: PlanOptions): Plan {
  const vec = vec4Ok(p);
  const count = (v: Variant) => groupsOf(p, v, 1).reduce((x, y) => x * y, 1);
  let v: Variant, why: string;
  if (p.m <= SMALL && p.n <= SMALL) {
    v = variant(vec ? 'matmul-32x32' : 'matmul-f32-32x32');
    why = `m, n ≤ ${SMALL}`;
  } else if (p.n <= THIN) {
    v = variant(vec ? (o.kind === 'gpu' ? 'matmul-thin-n' : 'matmul-thin-n-rows') : 'matmul-f32-thin-n');
    why = `n ≤ ${THIN}`;
  } else if (p.m <= THIN) {
    v = variant(vec ? (o.kind === 'gpu' ? 'matmul-thin-m' : 'matmul-thin-m-cols') : 'matmul-f32-thin-m');
    why = `m ≤ ${THIN}`;
  } else {
    const all = (vec ? GENERAL[o.kind] : GENERAL_SCALAR).map(variant);
    const enough = all.find((x) => {
      const { BM, BN } = tiling(x);
      return 2 * p.m > BM && 2 * p.n > BN && count(x) >= o.targetGroups;
    });
    v = enough ?? all.reduce((best, x) => (count(x) > count(best) ? x : best));
    why = enough ? `largest tile with ≥ ${o.targetGroups} workgroups` : `fewer than ${o.targetGroups} workgroups with any tile: the most`;
  }
  const groups = count(v);
  let splits = 1;
  if (groups > 0 && groups < o.targetGroups && p.k >= 2 * MIN_CHUNK) {
    splits = Math.min(Math.ceil(o.targetGroups / groups), Math.floor(p.k / MIN_CHUNK), MAX_SPLITS);
  }
  let plan = planFor(p, v, splits);
  plan.reason = plan.splits > 1 ? `${why}; split-K ×${plan.splits} (${groups} < ${o.targetGroups} workgroups)` : why;
  // past a batch of 65535, more splits add z iterations as fast as they shorten the k loop: stop at one
  // k tile per split (the launch is then refused, naming the cap)
  while (tiledLoops(p, v, plan.splits, plan.kChunk) > o.maxLoop && plan.kChunk > v.TILE_K) {
    splits = Math.max(splits + 1, Math.ceil(splits * 1.25));
    plan = planFor(p, v, splits);
    plan.reason = `${why}; split-K ×${plan.splits} for the ${o.maxLoop}-iteration loop cap`;
  }
  return plan;
}
