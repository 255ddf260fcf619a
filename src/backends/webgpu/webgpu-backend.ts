import { AllocationTracker } from '../allocations.ts';
import { Storage, type AllocationStats, type Kernels } from '../backend.ts';
import { dtypeOfArray, type DType, type TypedArray } from '../../dtype.ts';
import { fail } from '../../errors.ts';
import { isHalf } from '../../half-float.ts';
import { withHalfPrecision } from '../half-precision.ts';
import { unregisterBackend } from '../registry.ts';
import type { AdapterReport, GpuCounters, PoolStats, WebGpu } from './api.ts';
import { BufferPool } from './buffer-pool.ts';
import type { GpuContext, Launch } from './gpu-context.ts';
import { elementwiseKernels } from './kernels/elementwise.ts';
import { buf, wordsOf, type Gpu } from './kernels/gpu.ts';
import { layoutKernels } from './kernels/layout.ts';
import { linalgKernels } from './kernels/linalg.ts';
import { halfFused, matmulKernels } from './kernels/matmul.ts';
import { targetGroups, type PlanOptions } from './kernels/matmul-plan.ts';
import { nnKernels } from './kernels/nn.ts';
import { optimKernels } from './kernels/optim.ts';
import { randomKernels } from './kernels/random.ts';
import { reduceKernels } from './kernels/reduce.ts';

/**
 * WebGPU backend (float32, int32, float16, bfloat16; float64 lives on the CPU). Every kernel is a
 * WGSL compute shader from wgsl/; kernels only record dispatches, and `read()` is the only
 * read-back (so forward and backward never wait for the GPU). Storages hold pooled GPUBuffers.
 *
 * float16 and bfloat16: stored at 2 bytes per element, two elements packed in each u32 word
 * (element 2k in the low half of word k; the buffer rounded up to whole words, while
 * Storage.bytes and the allocation counts stay size·2). WGSL has no 16-bit storage type without
 * the 'shader-f16' feature (which llvmpipe lacks), so the packed layout serves every adapter:
 * `cast` (cast.wgsl) converts between every pair of dtypes in integer arithmetic, bit-identical
 * to the CPU, and `full` writes the packed pattern; every other kernel runs through
 * withHalfPrecision (half-precision.ts): its 16-bit operands are cast to float32 scratch, the
 * float32 kernel computes (accumulating in float32), and its outputs are cast back once — except
 * matmul, whose vec4 kernels widen 16-bit tiles as they load them and round in their epilogue
 * (kernels/matmul.ts, halfFused): no scratch, no casts, the same bits.
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
    const kernels: Kernels = {
      ...elementwiseKernels(this),
      ...layoutKernels(this),
      ...matmulKernels(this),
      ...reduceKernels(this),
      ...nnKernels(this),
      ...randomKernels(this),
      ...linalgKernels(this),
      ...optimKernels(this),
    };
    // in-place kernels write their 16-bit operands back with a copy (same dtype and size: same words)
    const widened = withHalfPrecision(kernels, { overwrite: (dst, src) => ctx.copy(buf(src), buf(dst), wordsOf(dst.dtype, dst.size) * 4) });
    this.kernels = { ...widened, matmul: halfFused(this, widened.matmul) };
  }

  supportsDtype(dtype: DType): boolean {
    return dtype !== 'float64';
  }

  alloc(op: string, dtype: DType, size: number): Storage<GPUBuffer> {
    this.checkAlive(op);
    if (!this.supportsDtype(dtype)) fail(op, `dtype ${dtype} is not supported on webgpu; expected float32, int32, float16 or bfloat16 (float64 lives on the CPU)`);
    const bytes = wordsOf(dtype, size) * 4;
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

  /** A storage holding `data` (a Uint16Array holds the bits of `dtype`, float16 or bfloat16). */
  upload(data: TypedArray, dtype?: DType): Storage {
    if (data instanceof Float64Array) fail('upload', 'float64 data cannot live on webgpu; expected a Float32Array, Int32Array or Uint16Array (cast to float32 first)');
    const s = this.alloc('upload', dtypeOfArray(data, dtype, 'upload'), data.length);
    const buffer = s.handle;
    // writeBuffer runs before commands recorded but not yet submitted: a recycled buffer that
    // they may still read must wait until they are submitted
    if (this.recycled.has(buffer) && this.ctx.hasPending) this.ctx.flush();
    // writeBuffer takes whole words: an odd number of 16-bit elements gets a zero padding half
    const words = data.length % 2 === 1 && data instanceof Uint16Array ? Uint16Array.from({ length: data.length + 1 }, (_, i) => data[i] ?? 0) : data;
    if (words.byteLength > 0) this.ctx.device.queue.writeBuffer(buffer, 0, words.buffer, words.byteOffset, words.byteLength);
    return s;
  }

  async read(s: Storage): Promise<TypedArray> {
    this.checkAlive('read');
    const out = s.dtype === 'int32' ? Int32Array : isHalf(s.dtype) ? Uint16Array : Float32Array;
    if (s.size === 0) return new out(0);
    const bytes = await this.ctx.read(s.handle as GPUBuffer, wordsOf(s.dtype, s.size) * 4);
    return new out(bytes, 0, s.size);
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
