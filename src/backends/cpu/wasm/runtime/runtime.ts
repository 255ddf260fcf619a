/**
 * The WebAssembly tier's machinery, created together on first use: the memory (shared where the
 * platform allows it), its heap, the kernel module instantiated on this thread, and the worker
 * pool, which starts in the background.
 *
 *   run('softmax_f32', [x, y, rows, cols, 0], work, rows(…))     one call, split between threads
 *
 * A kernel call names its export and passes numbers (addresses in bytes). With a split, the call
 * is divided into parts of [0, extent) in whole granules, one per thread, when its `work` (about
 * the flops of a matmul that would take as long) reaches parallelMinFlops; every kernel's parts
 * write disjoint outputs and compute each element exactly as the whole call would, so results are
 * the same bits for any number of threads. Waking a sleeping worker costs 35–60 µs on an idle
 * machine (more when its core must be rescheduled), so the default threshold, 2²⁶ flops (≈ 1.3 ms
 * on one core), keeps small calls on the calling thread.
 */
import { fail } from '../../../../errors.ts';
import { buildKernelModule, gemmScratch, MATH_IMPORTS } from '../gen/module.ts';
import { WasmHeap } from './heap.ts';
import { canBlock, loadPlatform, type Platform } from './platform.ts';
import { ThreadPool, type Task } from './threads.ts';
import { wasm, type WasmMemory, type WasmModule } from './wasm-api.ts';

/**
 * How a call divides into parts, as data (no closure per call): part [lo, hi) of [0, extent), in
 * whole granules, is the call with args[count] = hi − lo and each pointer args[i] of `pointers`
 * ([i, bytes per unit]) advanced by lo·bytes; args[scratch], if given, is the thread's GEMM scratch.
 */
export interface Split {
  extent: number;
  granule: number;
  count: number;
  pointers: readonly (readonly [number, number])[];
  scratch?: number;
  /** At most this many parts (a call that prepared per-thread scratch for them). */
  threads?: number;
}

/** The split of a call over args[count] rows (or elements). */
export function rowSplit(args: readonly number[], count: number, pointers: readonly (readonly [number, number])[], granule = 1): Split {
  return { extent: args[count]!, granule, count, pointers };
}

/** The largest memory tried first, then smaller ones where the engine cannot reserve it. */
const MAX_PAGES = [32768, 8192, 2048]; // 2 GiB, 512 MiB, 128 MiB (pages of 64 KiB)

export class WasmRuntime {
  readonly heap: WasmHeap;
  readonly module: WasmModule;
  /** Threads wanted, the caller included (null: the platform's cores), and the least work worth splitting. */
  threads: number | null = null;
  parallelMinFlops = 2 ** 26;
  private readonly fns: ((...args: number[]) => void)[];
  private readonly ops = new Map<string, number>();
  private readonly pool: ThreadPool | null;
  private platform: Platform | string | null = null;
  private loading: Promise<Platform | string> | null = null;
  private readonly gemmScratch: number[] = [];

  /** shared: tensors live in a shared memory (threads possible, views never detach); else a plain one. */
  constructor(readonly shared: boolean) {
    const { memory, maximum } = createMemory(shared);
    const { bytes, exports } = buildKernelModule({ initial: 16, maximum, shared });
    this.module = new wasm!.Module(bytes);
    const env: Record<string, unknown> = { memory };
    for (const name of MATH_IMPORTS) env[name] = Math[name];
    const instance = new wasm!.Instance(this.module, { env });
    this.fns = exports.map((name, i) => {
      this.ops.set(name, i);
      return instance.exports[name] as (...args: number[]) => void;
    });
    this.heap = new WasmHeap(memory);
    this.pool = shared ? new ThreadPool(this.heap, { module: this.module, memory, exportNames: exports, mathImports: MATH_IMPORTS }, this.fns, canBlock()) : null;
  }

  /** Whether the module has this kernel. */
  has(name: string): boolean {
    return this.ops.has(name);
  }

  /** Runs kernel `name` on `args`, split between threads when `work` is worth it. */
  run(name: string, args: number[], work: number, split: Split): void {
    const op = this.ops.get(name);
    if (op === undefined) throw new Error(`no wasm kernel ${name}`);
    const threads = work >= this.parallelMinFlops ? Math.min(this.available(), split.threads ?? Infinity) : 1;
    if (threads === 1 || split.extent <= split.granule) {
      if (split.scratch !== undefined) args[split.scratch] = this.scratch(0);
      this.fns[op]!(...args);
      return;
    }
    const tasks: Task[] = [];
    for (const [lo, hi] of ranges(split.extent, threads, split.granule)) {
      const x = args.slice();
      x[split.count] = hi - lo;
      for (const [i, bytes] of split.pointers) x[i] = args[i]! + lo * bytes;
      if (split.scratch !== undefined) x[split.scratch] = this.scratch(tasks.length);
      tasks.push({ op, args: x });
    }
    this.pool!.run(tasks);
  }

  /** Threads wanted: the option, else the platform's cores (1 until they are known). */
  wanted(): number {
    return this.threads ?? (this.platform && typeof this.platform === 'object' ? this.platform.cores : 1);
  }

  /** Threads usable now, the caller included (1 until workers are ready); starts the missing workers. */
  available(): number {
    if (!this.pool) return 1;
    void this.load();
    const want = this.wanted();
    if (want <= 1) return 1;
    if (this.platform && typeof this.platform === 'object') this.pool.grow(want - 1, this.platform.spawn);
    return this.pool.ready(want - 1);
  }

  /** The packing scratch of GEMM thread t (allocated on first use; 0 if the heap is full). */
  scratch(t: number): number {
    while (this.gemmScratch.length <= t) {
      const ptr = this.heap.alloc(gemmScratch());
      if (!ptr) return 0;
      this.gemmScratch.push(ptr);
    }
    return this.gemmScratch[t]!;
  }

  /** Resolves when the wanted workers are ready, or with why there are fewer. */
  async ready(): Promise<string | null> {
    if (!this.pool) return (this.threads ?? 1) > 1 ? 'no shared memory (in a browser: a page that is not cross-origin isolated)' : null;
    const platform = await this.load();
    if (typeof platform === 'string') return (this.threads ?? 1) > 1 ? platform : null;
    while (this.available() < this.wanted()) {
      const why = this.pool.broken ?? this.pool.failures();
      if (why) return why;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return null;
  }

  /** How threads are made here, once known. */
  get threadKind(): string | null {
    return this.platform && typeof this.platform === 'object' ? this.platform.kind : null;
  }

  private load(): Promise<Platform | string> {
    return (this.loading ??= loadPlatform().then((p) => (this.platform = p)));
  }
}

/** A memory of 1 MiB, growable to the largest maximum (in pages) the engine grants. */
function createMemory(shared: boolean): { memory: WasmMemory; maximum: number } {
  for (const maximum of MAX_PAGES) {
    try {
      return { memory: new wasm!.Memory({ initial: 16, maximum, shared }), maximum };
    } catch {
      // reserve less
    }
  }
  return fail('cpu', 'cannot create a WebAssembly memory');
}

/** Splits [0, total) into at most `parts` non-empty ranges of whole granules (the last may be ragged). */
export function ranges(total: number, parts: number, granule: number): [number, number][] {
  const granules = Math.ceil(total / granule);
  const per = Math.ceil(granules / parts) * granule;
  const out: [number, number][] = [];
  for (let lo = 0; lo < total; lo += per) out.push([lo, Math.min(total, lo + per)]);
  return out;
}
