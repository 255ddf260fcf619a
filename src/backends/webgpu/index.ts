/** The WebGPU backend: initWebGpu, the backend class. */
export { initWebGpu, MESA_HINT, type DawnBackend, type WebGpuOptions } from './init.ts';
export { WebGpuBackend, type AdapterReport } from './webgpu-backend.ts';
export type { PoolStats } from './buffer-pool.ts';
