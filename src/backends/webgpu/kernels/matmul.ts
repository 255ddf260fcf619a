/** Tiled matmul on WebGPU. */
import type { MatmulKernels } from '../../backend.ts';
import { fail } from '../../../errors.ts';
import { MAX_GROUPS, Params } from '../gpu-context.ts';
import { buf, type Gpu } from './gpu.ts';

/** Each thread of matmul.wgsl computes a MICRO × MICRO block of the output. */
const MICRO = 4;
/** matmul.wgsl's TILE_K default. */
const TILE_K = 16;

/** Threads along one side of the workgroup: small matrices get small tiles (4·threads wide). */
function sideThreads(size: number): number {
  return size <= 16 ? 4 : size <= 32 ? 8 : 16;
}

/**
 * The longest loop of matmul.wgsl per invocation, summed over its re-entries: per k tile the tile
 * loads run ⌈TM·TILE_K / threads⌉ (A) or ⌈TN·TILE_K / threads⌉ (B) times and the kk loop TILE_K;
 * there are ⌈k / TILE_K⌉ tiles per matrix, and an invocation computes ⌈batch / 65535⌉ matrices
 * (the z loop re-enters every inner loop once per matrix above the grid's 65535 layers).
 */
export function matmulLoops(batch: number, k: number, wgX: number, wgY: number): number {
  const threads = wgX * wgY;
  const perTile = Math.max(TILE_K, Math.ceil((MICRO * wgY * TILE_K) / threads), Math.ceil((MICRO * wgX * TILE_K) / threads));
  return Math.ceil(batch / MAX_GROUPS) * Math.max(1, perTile * Math.ceil(k / TILE_K));
}

export function matmulKernels(gpu: Gpu): MatmulKernels {
  return {
    matmul(a, b, p) {
      const { batch, m, n, k } = p;
      const wgX = sideThreads(n), wgY = sideThreads(m);
      const gx = Math.ceil(n / (MICRO * wgX)), gy = Math.ceil(m / (MICRO * wgY));
      if (gx > MAX_GROUPS || gy > MAX_GROUPS) fail('matmul', `an output of [${m}, ${n}] needs more than ${MAX_GROUPS} tiles along one side`);
      const out = gpu.alloc('matmul', a.dtype, batch * m * n);
      gpu.run({
        shader: 'matmul',
        constants: { TRANS_A: p.transA, TRANS_B: p.transB, WG_X: wgX, WG_Y: wgY },
        params: new Params().u32(m).u32(n).u32(k).u32(batch).u32(p.aBatchStride).u32(p.bBatchStride),
        buffers: [buf(a), buf(b), buf(out)],
        groups: [gx, gy, Math.min(batch, MAX_GROUPS)],
        loops: matmulLoops(batch, k, wgX, wgY),
      }, [out]);
      return out;
    },
  };
}
