/**
 * initWebGpu(): finds a WebGPU adapter through Dawn (the `webgpu` package), creates the device
 * and registers the 'webgpu' backend. Automatic choice: the platform's default Dawn backend
 * (Vulkan, Metal, D3D12) at featureLevel 'core', then OpenGL and OpenGL ES at 'compatibility'
 * (how Mesa's llvmpipe runs WebGPU on machines without a GPU; see the README's WebGPU section).
 */
import { fail } from '../../errors.ts';
import { registerBackend } from '../registry.ts';
import { GpuContext } from './gpu-context.ts';
import { WebGpuBackend, type AdapterReport } from './webgpu-backend.ts';

export type DawnBackend = 'default' | 'vulkan' | 'metal' | 'd3d12' | 'opengl' | 'opengles';

export interface WebGpuOptions {
  /** 'auto' (default): 'default' at featureLevel core, then 'opengl' and 'opengles' at compatibility. */
  backend?: 'auto' | DawnBackend;
  /** Defaults to 'compatibility' for OpenGL (ES) and 'core' otherwise. */
  featureLevel?: 'core' | 'compatibility';
  powerPreference?: 'low-power' | 'high-performance';
  /** Dispatches recorded per submit (default 256). */
  batchSize?: number;
  /** Bytes of freed buffers kept for reuse before buffers are destroyed (default 1 GiB). */
  maxPooledBytes?: number;
}

interface Attempt {
  backend: DawnBackend;
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
export function initWebGpu(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
  current ??= createBackend(options).catch((e: unknown) => {
    current = null;
    throw e;
  });
  return current;
}

function attempts(o: WebGpuOptions): Attempt[] {
  const backend = o.backend ?? 'auto';
  const level = (b: DawnBackend) => o.featureLevel ?? (b === 'opengl' || b === 'opengles' ? 'compatibility' : 'core');
  if (backend !== 'auto') return [{ backend, featureLevel: level(backend) }];
  return (['default', 'opengl', 'opengles'] as const).map((b) => ({ backend: b, featureLevel: level(b) }));
}

async function createBackend(options: WebGpuOptions): Promise<WebGpuBackend> {
  // EGL needs a platform to initialise without a display (harmless elsewhere)
  if (process.platform === 'linux') process.env.EGL_PLATFORM ??= 'surfaceless';
  let create: (flags: string[]) => GPU;
  try {
    ({ create } = await import('webgpu'));
  } catch (e) {
    fail('initWebGpu', `cannot load the 'webgpu' package (Dawn for Node): ${(e as Error).message}; expected it installed by npm ci`);
  }
  const tried: string[] = [];
  for (const attempt of attempts(options)) {
    const label = `${attempt.backend} (featureLevel ${attempt.featureLevel})`;
    try {
      const gpu = create(attempt.backend === 'default' ? [] : [`backend=${attempt.backend}`]);
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
        backend: attempt.backend, featureLevel: attempt.featureLevel,
        vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
      };
      // llvmpipe (and lavapipe) end every shader loop after 65535 iterations (gallivm's loop limit)
      const capped = /llvmpipe/i.test(`${info.device} ${info.description}`);
      const ctx = new GpuContext(gpu, adapter, device, options.batchSize ?? 256, capped ? LLVMPIPE_MAX_LOOP : Infinity);
      const backend = new WebGpuBackend(ctx, report, { maxPooledBytes: options.maxPooledBytes ?? 2 ** 30 }, () => {
        current = null;
      });
      registerBackend(backend);
      return backend;
    } catch (e) {
      tried.push(`${label}: ${(e as Error).message}`);
    }
  }
  return fail('initWebGpu', `no WebGPU adapter found; tried ${tried.join('; ')}. ${MESA_HINT}`);
}
