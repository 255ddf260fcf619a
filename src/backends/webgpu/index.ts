/** The WebGPU backend: initWebGpu and its public types. */
export { initWebGpu, MESA_HINT } from './init.ts';
export type { AdapterReport, DawnBackend, GpuCounters, GpuProvider, PoolStats, WebGpu, WebGpuOptions } from './api.ts';
