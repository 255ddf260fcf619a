/**
 * The WebGPU backend as the public API types it. These types mention no WebGPU type (GPUBuffer,
 * GPUDevice, …), so a project type-checks lorafa without a WebGPU type package — and without
 * clashing with the one its own DOM library may already declare.
 */
import type { Backend } from '../backend.ts';

export type DawnBackend = 'default' | 'vulkan' | 'metal' | 'd3d12' | 'opengl' | 'opengles';

/** What lorafa needs of a GPU object: `navigator.gpu`, or Dawn's `create([...])` on Node. */
export interface GpuProvider {
  requestAdapter(options?: { featureLevel?: string; powerPreference?: 'low-power' | 'high-performance' }): Promise<unknown>;
}

export interface WebGpuOptions {
  /** The GPU to use; default: `navigator.gpu` where it exists, else Dawn's (Node). */
  gpu?: GpuProvider;
  /** Dawn (Node) only. 'auto' (default): 'default' at featureLevel core, then 'opengl' and 'opengles' at compatibility. */
  backend?: 'auto' | DawnBackend;
  /** Default: 'core', then 'compatibility' (Dawn: 'compatibility' for OpenGL (ES), 'core' otherwise). */
  featureLevel?: 'core' | 'compatibility';
  powerPreference?: 'low-power' | 'high-performance';
  /** Dispatches recorded per submit (default 256). */
  batchSize?: number;
  /** Bytes of freed buffers kept for reuse before buffers are destroyed (default 1 GiB). */
  maxPooledBytes?: number;
}

/** What initWebGpu found: the GPU it used ('navigator.gpu' or 'Dawn <backend>'), the feature level, and the adapter's own words. */
export interface AdapterReport {
  backend: string;
  featureLevel: 'core' | 'compatibility';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** The buffer pool's view: pooled buffers and bytes, and everything allocated on the GPU. */
export interface PoolStats {
  /** Buffers waiting in the pool, and their bytes. */
  pooledBuffers: number;
  pooledBytes: number;
  /** Bytes of every GPU buffer that exists (handed out or pooled). */
  allocatedBytes: number;
  /** Buffers created since the start; a reuse does not count. */
  created: number;
}

/**
 * What the backend has done since it was created (differences between two readings count a
 * training step's work: `npm run bench` reports dispatches and submits per step).
 */
export interface GpuCounters {
  /** Compute dispatches recorded (one per kernel launch; a split-K matmul is two). */
  dispatches: number;
  /** Command buffers submitted (a batch of up to batchSize dispatches, or what a read-back or an upload had to flush). */
  submits: number;
  /** Pipelines compiled (one per kernel, entry point and set of override constants). */
  pipelines: number;
  /** Bind groups created (cached per pipeline and buffers: a repeated step creates none). */
  bindGroups: number;
  /** Read-backs to the host. */
  reads: number;
}

/** The 'webgpu' backend that initWebGpu() registers. */
export interface WebGpu extends Backend {
  readonly adapter: AdapterReport;
  readonly counters: Readonly<GpuCounters>;
  readonly isDisposed: boolean;
  poolStats(): PoolStats;
  /** Submits the recorded commands now (reads do this themselves). */
  flush(): void;
  /** Waits until the GPU has run everything recorded so far (for timing). */
  sync(): Promise<void>;
  /** Destroys every buffer and the device, and unregisters the backend. */
  dispose(): void;
}
