/**
 * The CPU backend's tiers as tests run them: the JavaScript kernels, and the WebAssembly kernels
 * on one thread, on three threads with every kernel call split between them (parallelMinFlops 0),
 * and without shared memory (what a page that is not cross-origin isolated gets: operands copied
 * in and out). Every option is given, so a tier never inherits another's settings.
 */
import type { CpuOptions } from '../../src/index.ts';

export interface CpuTierCase {
  label: string;
  options: Required<CpuOptions>;
}

export const JS_TIER: Required<CpuOptions> = { tier: 'js', threads: 1, parallelMinFlops: 0, sharedMemory: true };

export function wasmTier(threads: number, sharedMemory = true): Required<CpuOptions> {
  return { tier: 'wasm', threads, parallelMinFlops: 0, sharedMemory };
}

export const CPU_TIERS: CpuTierCase[] = [
  { label: 'js', options: JS_TIER },
  { label: 'wasm 1 thread', options: wasmTier(1) },
  { label: 'wasm 3 threads', options: wasmTier(3) },
  { label: 'wasm unshared', options: wasmTier(1, false) },
];
