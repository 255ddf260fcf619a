import { AllocationTracker } from '../allocations.ts';
import { Storage, type AllocationStats, type Backend, type Kernels } from '../backend.ts';
import { dtypeOfArray, type DType, type TypedArray } from '../../dtype.ts';
import { fail } from '../../errors.ts';
import { withHalfPrecision } from '../half-precision.ts';
import type { Cpu } from './kernels/cpu.ts';
import { elementwiseKernels } from './kernels/elementwise.ts';
import { layoutKernels } from './kernels/layout.ts';
import { linalgKernels } from './kernels/linalg.ts';
import { matmulKernels } from './kernels/matmul.ts';
import { nnKernels } from './kernels/nn.ts';
import { optimKernels } from './kernels/optim.ts';
import { randomKernels } from './kernels/random.ts';
import { reduceKernels } from './kernels/reduce.ts';
import { detectFeatures } from './wasm/asm/features.ts';
import { wasmKernels, type WasmCpu } from './wasm/kernels/index.ts';
import { viewOf } from './wasm/kernels/operands.ts';
import type { HeapStats } from './wasm/runtime/heap.ts';

export type { HeapStats } from './wasm/runtime/heap.ts';
import { WasmRuntime } from './wasm/runtime/runtime.ts';

/**
 * Which kernels the CPU backend runs:
 * - 'wasm': WebAssembly SIMD kernels generated at load time (wasm/), on worker threads over a
 *   shared memory where the platform has one; the default wherever WebAssembly SIMD validates.
 * - 'js': the readable JavaScript kernels (kernels/), one thread: the reference implementation.
 */
export type CpuTier = 'js' | 'wasm';

export interface CpuOptions {
  /** 'wasm' (the default where WebAssembly SIMD is available) or 'js'. */
  tier?: CpuTier;
  /** Threads of the 'wasm' tier, the calling thread included; default: the cores the platform reports. */
  threads?: number;
  /** Least work, in flops of a matmul, that one kernel call splits between threads (default 2²⁶). */
  parallelMinFlops?: number;
  /**
   * 'wasm': keep tensors in a shared WebAssembly.Memory where the platform allows it (default true).
   * false runs what a browser page that is not cross-origin isolated gets: one thread, operands
   * copied into the WebAssembly memory and results out, per kernel call (for tests and benchmarks).
   */
  sharedMemory?: boolean;
}

export interface CpuInfo {
  /** The tier running now ('js' where 'wasm' was asked for but is unavailable: see limits). */
  tier: CpuTier;
  /** Threads running kernels now, the caller included, and the number wanted. */
  threads: number;
  wantedThreads: number;
  /** 'wasm': tensors live in a shared WebAssembly.Memory (no copy per op; threads possible). */
  sharedMemory: boolean;
  /** Why the tier or the threads are fewer than asked, if they are. */
  limits: string[];
  /** The WebAssembly heap: blocks in use and pooled for reuse, and the memory's size. */
  heap: HeapStats | null;
}

/**
 * The CPU backend: float32, float64, float16, bfloat16 and int32 tensors (16-bit ones computed
 * in float32: half-precision.ts). Its kernels come in the same groups, in
 * same-named files, as the WebGPU backend's (kernels/*.ts, the JavaScript tier); the WebAssembly
 * tier (wasm/) replaces the hot ones — matmul, the elementwise, nn and AdamW kernels — and falls
 * back to the JavaScript kernel for every case it has no code for.
 *
 * Storage: with the 'wasm' tier and a shared memory, every tensor's elements live in the
 * WebAssembly heap (wasm/runtime/heap.ts), as a typed-array view that every kernel, of either
 * tier, reads in place; the view's byteOffset is its address. Otherwise (the 'js' tier, or no
 * shared memory) a storage holds a plain typed array, which the WebAssembly kernels copy in and
 * out. Sizes in memory() and measureSaved are the tensors' elements × bytes either way.
 */
export class CpuBackend implements Backend, Cpu, WasmCpu {
  readonly device = 'cpu' as const;
  readonly kernels: Kernels;
  private readonly allocations = new AllocationTracker();
  private tier: CpuTier = 'wasm';
  private threads: number | null = null;
  private parallelMinFlops = 2 ** 26;
  private sharedMemory = true;
  /** The WebAssembly runtimes made so far, by whether their memory is shared, and the one in use. */
  private readonly runtimes = new Map<boolean, WasmRuntime>();
  private runtime: WasmRuntime | null = null;
  /** Why the WebAssembly tier cannot run here (found when it was first needed). */
  private unavailable: string | null = null;
  /** Why the last initCpu got fewer threads than wanted. */
  private threadLimit: string | null = null;

  constructor() {
    const js: Kernels = {
      ...elementwiseKernels(this),
      ...layoutKernels(this),
      ...matmulKernels(this),
      ...reduceKernels(this),
      ...nnKernels(this),
      ...randomKernels(this),
      ...linalgKernels(this),
      ...optimKernels(),
    };
    const kernels: Record<string, (...args: unknown[]) => unknown> = { ...(js as unknown as Record<string, (...args: unknown[]) => unknown>) };
    for (const [name, fast] of Object.entries(wasmKernels(this)) as [string, (...args: unknown[]) => unknown][]) {
      const slow = kernels[name]!;
      kernels[name] = (...args) => {
        const result = this.active() ? fast(...args) : null;
        return result === null ? slow(...args) : result;
      };
    }
    this.kernels = withHalfPrecision(kernels as unknown as Kernels, {
      overwrite: (dst, src) => (dst.handle as TypedArray).set(src.handle as TypedArray),
    });
  }

  get description(): string {
    const rt = this.active();
    if (!rt) return 'CPU (JavaScript, 1 thread)';
    const threads = rt.shared ? rt.wanted() : 1; // no shared memory: one thread, whatever was asked
    return `CPU (WebAssembly SIMD, ${threads} thread${threads === 1 ? '' : 's'}${rt.shared ? '' : ', no shared memory'})`;
  }

  /** The WebAssembly runtime (only called by the WebAssembly kernels, which run when it is active). */
  get rt(): WasmRuntime {
    return this.runtime!;
  }

  /** Selects the tier and threads; returns at once (workers start in the background). */
  configure(o: CpuOptions): void {
    if (o.tier !== undefined && o.tier !== 'js' && o.tier !== 'wasm') fail('configureCpu', `tier is ${JSON.stringify(o.tier)}; expected 'js' or 'wasm'`);
    if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1)) fail('configureCpu', `threads is ${o.threads}; expected an integer ≥ 1`);
    if (o.parallelMinFlops !== undefined && !(o.parallelMinFlops >= 0)) fail('configureCpu', `parallelMinFlops is ${o.parallelMinFlops}; expected a number ≥ 0`);
    if (o.sharedMemory !== undefined && typeof o.sharedMemory !== 'boolean') fail('configureCpu', `sharedMemory is ${JSON.stringify(o.sharedMemory)}; expected true or false`);
    this.tier = o.tier ?? this.tier;
    this.threads = o.threads ?? this.threads;
    this.parallelMinFlops = o.parallelMinFlops ?? this.parallelMinFlops;
    this.sharedMemory = o.sharedMemory ?? this.sharedMemory;
    this.threadLimit = null;
    this.applySettings();
  }

  /** configure(), then waits until the wanted worker threads run (or it is clear they cannot). */
  async init(o: CpuOptions): Promise<CpuInfo> {
    this.configure(o);
    this.threadLimit = (await this.active()?.ready()) ?? null;
    return this.info();
  }

  info(): CpuInfo {
    const rt = this.active();
    const noSharing = rt && !rt.shared && this.sharedMemory
      ? 'no shared memory (in a browser: the page is not cross-origin isolated): one thread, operands copied in and out per kernel call'
      : null;
    const limits = [this.tier === 'wasm' ? this.unavailable : null, noSharing, rt ? this.threadLimit : null].filter((x): x is string => x !== null);
    return {
      tier: rt ? 'wasm' : 'js',
      threads: rt ? rt.available() : 1,
      wantedThreads: rt ? rt.wanted() : 1,
      sharedMemory: rt?.shared ?? false,
      limits,
      heap: this.runtime?.heap.stats() ?? null,
    };
  }

  supportsDtype(_dtype: DType): boolean {
    return true;
  }

  /** A storage over data (no copy), or over a heap copy of it where tensors live in the heap. */
  adopt(data: TypedArray, dtype = dtypeOfArray(data)): Storage {
    const rt = this.active();
    if (rt?.shared && !rt.heap.contains(data)) {
      const ptr = rt.heap.alloc(data.byteLength);
      if (ptr) {
        viewOf(rt, dtype, ptr, data.length).set(data);
        return this.wrap(dtype, data.length, ptr);
      }
    }
    return this.track(new Storage<TypedArray>(this, dtype, data.length, data));
  }

  wrap(dtype: DType, size: number, ptr: number): Storage {
    return this.track(new Storage<TypedArray>(this, dtype, size, viewOf(this.runtime!, dtype, ptr, size)));
  }

  upload(data: TypedArray, dtype = dtypeOfArray(data, undefined, 'upload')): Storage {
    return this.active()?.shared ? this.adopt(data, dtype) : this.adopt(data.slice(), dtype);
  }

  async read(s: Storage): Promise<TypedArray> {
    return this.readSync(s);
  }

  readSync(s: Storage): TypedArray {
    return (s.handle as TypedArray).slice();
  }

  free(s: Storage): void {
    this.allocations.freed(s.bytes);
    const data = s.handle as TypedArray;
    for (const rt of this.runtimes.values()) {
      if (rt.heap.contains(data)) rt.heap.free(data.byteOffset, data.byteLength);
    }
    s.handle = null;
  }

  memory(): AllocationStats {
    return this.allocations.stats();
  }

  resetPeak(): void {
    this.allocations.resetPeak();
  }

  private track(s: Storage): Storage {
    this.allocations.allocated(s.bytes);
    return s;
  }

  /** The WebAssembly runtime when the 'wasm' tier is selected and can run (created on first use). */
  private active(): WasmRuntime | null {
    if (this.tier !== 'wasm' || this.unavailable) return null;
    if (!this.runtime) {
      const features = detectFeatures();
      if (!features.simd128) {
        this.unavailable = 'this engine has no WebAssembly SIMD: the JavaScript tier runs instead';
        return null;
      }
      const shared = this.sharedMemory && features.sharedMemory;
      let rt = this.runtimes.get(shared);
      if (!rt) {
        try {
          rt = new WasmRuntime(shared);
        } catch (e) {
          this.unavailable = `the WebAssembly tier could not start (${(e as Error).message}): the JavaScript tier runs instead`;
          return null;
        }
        this.runtimes.set(shared, rt);
      }
      this.runtime = rt;
      this.applySettings();
    }
    return this.runtime;
  }

  /** Hands the settings to the runtime in use (a change of sharedMemory picks the other runtime at the next call). */
  private applySettings(): void {
    if (this.runtime && this.runtime.shared !== (this.sharedMemory && detectFeatures().sharedMemory)) this.runtime = null;
    if (!this.runtime) return;
    this.runtime.threads = this.threads;
    this.runtime.parallelMinFlops = this.parallelMinFlops;
  }
}

/** The CPU backend, registered as 'cpu' (registry.ts). */
export const cpuBackend = new CpuBackend();

/** Selects the CPU backend's tier and threads; returns at once (worker threads start in the background). */
export function configureCpu(options: CpuOptions): CpuInfo {
  cpuBackend.configure(options);
  return cpuBackend.info();
}

/** configureCpu, then waits until the wanted worker threads run; the info says why if there are fewer. */
export function initCpu(options: CpuOptions = {}): Promise<CpuInfo> {
  return cpuBackend.init(options);
}

/** The CPU backend's tier, threads and heap now. */
export function cpuInfo(): CpuInfo {
  return cpuBackend.info();
}
