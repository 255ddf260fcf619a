/**
 * initWebGpu(): finds a WebGPU adapter, creates the device and registers the 'webgpu' backend.
 * Where the platform has WebGPU (`navigator.gpu`: browsers, Deno) it is used, at featureLevel
 * 'core' and then 'compatibility'. On Node, Dawn's bindings (the `webgpu` package) are loaded by a
 * dynamic import that bundlers leave alone, and tried as: the platform's default Dawn backend
 * (Vulkan, Metal, D3D12) at 'core', then OpenGL and OpenGL ES at 'compatibility' (how Mesa's
 * llvmpipe runs WebGPU on machines without a GPU; see the README's WebGPU section).
 */
import { fail } from '../../errors.ts';
import { registerBackend } from '../registry.ts';
import { GpuContext } from './gpu-context.ts';
import type { AdapterReport, DawnBackend, GpuProvider, WebGpu, WebGpuOptions } from './api.ts';
import { WebGpuBackend } from './webgpu-backend.ts';

export type { DawnBackend, WebGpuOptions } from './api.ts';

/** One way to get an adapter: a GPU (made on demand) at a feature level; `label` names it in reports. */
interface Attempt {
  label: string;
  gpu: () => GpuProvider;
  featureLevel: 'core' | 'compatibility';
}

export const MESA_HINT =
  'On Linux without a GPU, install Mesa (apt-get install -y --no-install-recommends libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libgl1) ' +
  'so Dawn can use llvmpipe through OpenGL; with a GPU, install its Vulkan driver (and libvulkan1)';

/** Limits the kernels rely on, requested at the adapter's own values (compatibility defaults are lower). */
const LIMITS = [
  'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize', 'maxBufferSize',
] as const;

/** Iterations after which llvmpipe ends any shader loop (LP_MAX_TGSI_LOOP_ITERATIONS). */
const LLVMPIPE_MAX_LOOP = 65535;

let current: Promise<WebGpuBackend> | null = null;

/**
 * The WebGPU backend, created on the first call and registered as 'webgpu' (later calls return
 * the same backend and ignore their options, until it is disposed). Throws a clear error naming
 * every Dawn backend tried when no adapter is found.
 */
export function initWebGpu(options: WebGpuOptions = {}): Promise<WebGpu> {
  current ??= createBackend(options).catch((e: unknown) => {
    current = null;
    throw e;
  });
  return current;
}

/** The package that provides Dawn on Node, in a variable so that bundlers do not follow the import. */
const DAWN_PACKAGE = 'webgpu';

/** The GPU of the platform (options.gpu or navigator.gpu), if it has one. */
function platformGpu(o: WebGpuOptions): GpuProvider | undefined {
  return o.gpu ?? (globalThis as { navigator?: { gpu?: GpuProvider } }).navigator?.gpu;
}

async function attempts(o: WebGpuOptions): Promise<Attempt[]> {
  const levels = o.featureLevel ? [o.featureLevel] : (['core', 'compatibility'] as const);
  const gpu = platformGpu(o);
  if (gpu) return levels.map((featureLevel) => ({ label: `navigator.gpu (featureLevel ${featureLevel})`, gpu: () => gpu, featureLevel }));
  const proc = (globalThis as { process?: { platform?: string; env: Record<string, string | undefined>; versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) fail('initWebGpu', 'this platform has no WebGPU (no navigator.gpu); in a browser, use one with WebGPU enabled, or pass { gpu }');
  // EGL needs a platform to initialise without a display (harmless elsewhere)
  if (proc.platform === 'linux') proc.env.EGL_PLATFORM ??= 'surfaceless';
  let create: (flags: string[]) => GpuProvider;
  try {
    ({ create } = (await import(/* @vite-ignore */ DAWN_PACKAGE)) as { create: (flags: string[]) => GpuProvider });
  } catch (e) {
    return fail('initWebGpu', `cannot load the '${DAWN_PACKAGE}' package (Dawn for Node): ${(e as Error).message}; expected it installed with lorafa`);
  }
  const backend = o.backend ?? 'auto';
  const level = (b: DawnBackend) => o.featureLevel ?? (b === 'opengl' || b === 'opengles' ? 'compatibility' : 'core');
  const dawn = backend === 'auto' ? (['default', 'opengl', 'opengles'] as const) : [backend];
  return dawn.map((b) => ({ label: `Dawn ${b} (featureLevel ${level(b)})`, gpu: () => create(b === 'default' ? [] : [`backend=${b}`]), featureLevel: level(b) }));
}

async function createBackend(options: WebGpuOptions): Promise<WebGpuBackend> {
  const tried: string[] = [];
  for (const attempt of await attempts(options)) {
    const label = attempt.label;
    try {
      const gpu = attempt.gpu() as GPU; // a real GPU object: GpuProvider is its public, structural type
      const adapter = await gpu.requestAdapter({ featureLevel: attempt.featureLevel, powerPreference: options.powerPreference });
      if (!adapter) {
        tried.push(`${label}: no adapter`);
        continue;
      }
      const requiredLimits: Record<string, number> = {};
      for (const k of LIMITS) requiredLimits[k] = adapter.limits[k];
      const device = await adapter.requestDevice({ requiredLimits });
      const info = adapter.info;
      const report: AdapterReport = {
        backend: attempt.label.replace(/ \(featureLevel .*\)$/, ''), featureLevel: attempt.featureLevel,
        vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
      };
      // llvmpipe (and lavapipe) end every shader loop after 65535 iterations (gallivm's loop limit)
      const capped = /llvmpipe/i.test(`${info.device} ${info.description}`);
      const ctx = new GpuContext(gpu, adapter, device, options.batchSize ?? 256, capped ? LLVMPIPE_MAX_LOOP : Infinity);
      const backend = new WebGpuBackend(ctx, report, { maxPooledBytes: options.maxPooledBytes ?? 2 ** 30, llvmpipe: capped }, () => {
        current = null;
      });
      registerBackend(backend);
      return backend;
    } catch (e) {
      tried.push(`${label}: ${(e as Error).message}`);
    }
  }
  const hint = platformGpu(options) ? 'check that WebGPU is enabled (in headless Chromium: --enable-unsafe-webgpu)' : MESA_HINT;
  return fail('initWebGpu', `no WebGPU adapter found; tried ${tried.join('; ')}. ${hint}`);
}
