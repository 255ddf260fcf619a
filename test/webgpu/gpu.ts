/**
 * The WebGPU backend for a test file, or the reason it is missing. With REQUIRE_WEBGPU=1 (set by
 * .ci/run) a missing adapter is an error, so the run fails instead of skipping; otherwise test
 * files skip their WebGPU tests and say why.
 */
import { getBackend, type Backend, type Kernels } from '../../src/index.ts';
import { Storage } from '../../src/backends/backend.ts';
import { initWebGpu } from '../../src/backends/webgpu/index.ts';
import type { WebGpuBackend } from '../../src/backends/webgpu/webgpu-backend.ts';
import type { TypedArray } from '../../src/dtype.ts';

export const webgpuRequired = process.env.REQUIRE_WEBGPU === '1';

let gpu: WebGpuBackend | null = null;
let reason = '';
try {
  gpu = (await initWebGpu()) as WebGpuBackend; // the class, for tests that look inside
} catch (e) {
  if (webgpuRequired) throw e;
  reason = `WebGPU tests skipped (set REQUIRE_WEBGPU=1 to make this an error): ${(e as Error).message}`;
  console.warn(reason);
}

/** The shared backend of this test file (one device per file), or null. */
export const webgpu = gpu;
export const skipReason = reason;

/** Runs a kernel call on a backend with host inputs uploaded, returns the host outputs, frees everything. */
export async function runKernel(
  backend: Backend,
  inputs: readonly TypedArray[],
  call: (k: Kernels, s: Storage[]) => Storage | Storage[] | Record<string, Storage> | void,
  outputsOf: (s: Storage[]) => Storage[] = () => [],
): Promise<TypedArray[]> {
  const storages = inputs.map((a) => backend.upload(a));
  const result = call(backend.kernels, storages);
  const outs = result === undefined ? outputsOf(storages) : Array.isArray(result) ? result : result instanceof Storage ? [result] : Object.values(result);
  const data = await Promise.all(outs.map((s) => backend.read(s)));
  for (const s of [...storages, ...(result === undefined ? [] : outs)]) s.release();
  return data;
}

export const cpu = (): Backend => getBackend('cpu');
