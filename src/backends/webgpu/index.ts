/** The WebGPU backend: initWebGpu, the backend class, and timing helpers for benchmarks. */
export { initWebGpu, MESA_HINT, type DawnBackend, type WebGpuOptions } from './init.ts';
export { WebGpuBackend, type AdapterReport } from './webgpu-backend.ts';
export type { PoolStats } from './buffer-pool.ts';
export { timeWebGpuMatmul, timeWebGpuLoraFaStep, type LoraShape, type WebGpuTiming } from './bench.ts';
