import { AllocationTracker } from '../allocations.ts';
import { Storage, type AllocationStats, type Kernels } from '../backend.ts';
import { BYTES_PER_ELEMENT, type DType, type TypedArray } from '../../dtype.ts';
import { fail } from '../../errors.ts';
import { unregisterBackend } from '../registry.ts';
import type { AdapterReport, GpuCounters, PoolStats, WebGpu } from './api.ts';
import { BufferPool } from './buffer-pool.ts';
import type { GpuContext, Launch } from './gpu-context.ts';
import { elementwiseKernels } from './kernels/elementwise.ts';
import type { Gpu } from './kernels/gpu.ts';
import { layoutKernels } from './kernels/layout.ts';
import { linalgKernels } from './kernels/linalg.ts';
import { matmulKernels } from './kernels/matmul.ts';
import { targetGroups, type PlanOptions } from './kernels/matmul-plan.ts';
import { nnKernels } from './kernels/nn.ts';
import { optimKernels } from './kernels/optim.ts';
import { randomKernels } from './kernels/random.ts';
import { reduceKernels } from './kernels/reduce.ts';

/**
 * WebGPU backend (float32 and int32; float64 lives on the CPU). Every kernel is a WGSL compute
 * shader from wgsl/; kernels only record dispatches, and `read()` is the only read-back (so
 * forward and backward never wait for the GPU). Storages hold pooled GPUBuffers.
 */
export class WebGpuBackend implements WebGpu, Gpu {
  readonly device = 'webgpu' as const;
  readonly description: string;
  readonly kernels: Kernels;
  readonly placeholder: GPUBuffer;
  readonly matmulPlan: PlanOptions;
  private readonly pool: BufferPool;
  private readonly allocations = new AllocationTracker();
  /** Buffers handed out again by the pool: recorded commands may still read them. */
  private readonly recycled = new WeakSet<GPUBuffer>();
  private disposed = false;

  constructor(
    readonly ctx: GpuContext,
    readonly adapter: AdapterReport,
    options: { maxPooledBytes: number; llvmpipe: boolean },
    private readonly onDispose: () => void = () => {},
  ) {
    const words = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean);
    this.description = `WebGPU (${adapter.backend}, featureLevel ${adapter.featureLevel}): ${words.join(' · ') || 'unnamed adapter'}`;
    this.pool = new BufferPool(ctx.device, options.maxPooledBytes, () => ctx.flush());
    this.placeholder = this.pool.acquire(16).buffer;
    // llvmpipe runs a workgroup per CPU thread (hardwareConcurrency is absent on Node 20: assume 2)
    const kind = options.llvmpipe ? 'llvmpipe' : 'gpu';
    const threads = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 2;
    this.matmulPlan = { kind, targetGroups: targetGroups(kind, threads), maxLoop: ctx.maxLoopIterations };
    this.kernels = {
      ...elementwiseKernels(this),
      ...layoutKernels(this),
      ...matmulKernels(this),
      ...reduceKernels(this),
      ...nnKernels(this),
      ...randomKernels(this),
      ...linalgKernels(this),
      ...optimKernels(this),
    };
  }

  supportsDtype(dtype: DType): boolean {
    return dtype === 'float32' || dtype === 'int32';
  }

  alloc(op: string, dtype: DType, size: number): Storage<GPUBuffer> {
    this.checkAlive(op);
    if (!this.supportsDtype(dtype)) fail(op, `dtype ${dtype} is not supported on webgpu; expected float32 or int32 (float64 lives on the CPU)`);
    const bytes = size * BYTES_PER_ELEMENT[dtype];
    const limit = this.ctx.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit) fail(op, `a ${dtype} buffer of ${size} elements (${bytes} bytes) exceeds this adapter's maxStorageBufferBindingSize (${limit} bytes)`);
    const { buffer, reused } = this.pool.acquire(bytes);
    if (reused) this.recycled.add(buffer);
    const s = new Storage<GPUBuffer>(this, dtype, size, buffer);
    this.allocations.allocated(s.bytes);
    return s;
  }

  run(launch: Launch, outputs: readonly Storage[] = []): void {
    this.checkAlive(launch.shader);
    try {
      this.ctx.dispatch(launch);
    } catch (e) {
      for (const s of outputs) s.release();
      throw e;
    }
  }

  upload(data: TypedArray): Storage {
    if (data instanceof Float64Array) fail('upload', 'float64 data cannot live on webgpu; expected a Float32Array or Int32Array (cast to float32 first)');
    const s = this.alloc('upload', data instanceof Int32Array ? 'int32' : 'float32', data.length);
    const buffer = s.handle;
    // writeBuffer runs before commands recorded but not yet submitted: a recycled buffer that
    // they may still read must wait until they are submitted
    if (this.recycled.has(buffer) && this.ctx.hasPending) this.ctx.flush();
    if (data.byteLength > 0) this.ctx.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return s;
  }

  async read(s: Storage): Promise<TypedArray> {
    this.checkAlive('read');
    const out = s.dtype === 'int32' ? Int32Array : Float32Array;
    if (s.size === 0) return new out(0);
    return new out(await this.ctx.read(s.handle as GPUBuffer, s.bytes));
  }

  free(s: Storage): void {
    this.allocations.freed(s.bytes);
    if (!this.disposed) this.pool.release(s.handle as GPUBuffer);
    s.handle = null;
  }

  memory(): AllocationStats {
    return this.allocations.stats();
  }

  resetPeak(): void {
    this.allocations.resetPeak();
  }

  get counters(): Readonly<GpuCounters> {
    return this.ctx.counters;
  }

  poolStats(): PoolStats {
    return this.pool.stats();
  }

  /** Submits the recorded commands now (reads do this themselves). */
  flush(): void {
    this.ctx.flush();
  }

  /** Waits until the GPU has run everything recorded so far (for timing). */
  async sync(): Promise<void> {
    this.ctx.flush();
    await this.ctx.device.queue.onSubmittedWorkDone();
    await this.ctx.checkErrors();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Destroys every buffer and the device and unregisters the backend: tensors on it become
   * unusable, and getBackend('webgpu') / useBackend('webgpu') throw until initWebGpu() makes a new one.
   */
  dispose(): void {
    if (this.disposed) return;
    this.pool.destroyAll();
    this.ctx.destroy();
    this.disposed = true;
    unregisterBackend(this);
    this.onDispose();
  }

  private checkAlive(op: string): void {
    if (this.disposed) fail(op, 'the webgpu backend was disposed; call `await initWebGpu()` again for a new one');
  }
}
