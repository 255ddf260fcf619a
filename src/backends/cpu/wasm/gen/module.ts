/**
 * The kernel module: one wasm module with every generated kernel, importing `env.memory` and
 * `env.log` (Math.log). Built once per process; the calling thread and every worker instantiate
 * the same compiled module against the same memory.
 *
 * Exports (pointers in bytes, sizes and strides in elements unless a generator says otherwise):
 *   gemm_<p>, dots_<p>, axpy_<p>                         matmul (gemm-blocked.ts, gemv.ts)
 *   epilogue_<p>                                         alpha·C + bias + c after it (epilogue.ts)
 *   unary_<op>_<p>, unarygrad_<op>_<p>, binary_<op>_<p>, where_<p>   elementwise (elementwise.ts)
 *   softmax_f32, layernorm_f32, crossentropy_f32, …      nn rows (nn.ts)
 *   adamw_<p>                                            the optimizer step (optim.ts)
 *   strided_4, strided_8                                 strided copies of any dtype (layout.ts)
 */
import { ModuleBuilder, f64 } from '../asm/emitter.ts';
import { F32, F64, PRECISIONS, type Precision } from '../asm/precision.ts';
import { emitElementwise } from './elementwise.ts';
import { emitEpilogue } from './epilogue.ts';
import { emitGemm, gemmScratchBytes } from './gemm-blocked.ts';
import { type MicroShape, tileCols } from './gemm-micro.ts';
import { emitGemv } from './gemv.ts';
import { emitLayout } from './layout.ts';
import { emitNn } from './nn.ts';
import { emitOptim } from './optim.ts';

/** Register tiles, 8 v128 accumulators each (see gemm-micro.ts for why 8): 2×16 f32, 2×8 f64. */
const SHAPE: MicroShape = { mr: 2, nrVectors: 4 };

/**
 * Cache blocking, in elements, about the same bytes for both precisions: a packed B panel kc·NR
 * (16 KiB) stays in L1 (48 KiB on Zen 5) while the mc×kc block of A (256 KiB) streams from the
 * 1 MiB L2, next to the packed kc×nc B slab (512 KiB). kc = 256 also bounds C's read-modify-write
 * passes to k/256. Measured on the 2-core Zen 5 VM: kc 128–512, nc 256–1024, mc 128–512 were all
 * within the (large) noise for the big shapes; nc = 2048 and mc = 64 were clearly slower, and
 * (XA)ᵀ·dY, whose packed slab is streamed from DRAM, prefers nc ≤ 512.
 */
export interface Blocking { readonly kc: number; readonly nc: number; readonly mc: number }
export const BLOCKING: Readonly<Record<Precision['name'], Blocking>> = {
  f32: { kc: 256, nc: 512, mc: 256 },
  f64: { kc: 256, nc: 256, mc: 128 },
};

/** The micro-tile: MR rows, NR columns (the granules for splitting C between threads). */
export function tileOf(p: Precision): { MR: number; NR: number } {
  return { MR: SHAPE.mr, NR: tileCols(SHAPE, p) };
}

/** Scratch bytes one thread's GEMM needs, for either precision. */
export function gemmScratch(): number {
  return Math.max(...PRECISIONS.map((p) => {
    const s = BLOCKING[p.name];
    return gemmScratchBytes(p, SHAPE, s.kc, s.nc, s.mc);
  }));
}

/** The host functions the module imports (env.<name> = Math[name]). */
export const MATH_IMPORTS = ['log'] as const;

export interface MemoryLimits { initial: number; maximum: number; shared: boolean }

/** The module's bytes and its export names (a kernel's index in the list is its op number). */
export function buildKernelModule(memory: MemoryLimits): { bytes: Uint8Array<ArrayBuffer>; exports: string[] } {
  const mod = new ModuleBuilder();
  const log = mod.importFunc('env', 'log', [f64], [f64]);
  mod.importMemory('env', 'memory', memory);
  for (const p of [F32, F64]) {
    emitGemm(mod, p, SHAPE);
    emitGemv(mod, p);
    emitEpilogue(mod, p);
    emitElementwise(mod, p);
    emitOptim(mod, p);
  }
  emitNn(mod, log);
  emitLayout(mod);
  return { bytes: mod.bytes(), exports: mod.exports() };
}
