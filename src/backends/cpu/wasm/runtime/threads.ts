/**
 * A pool of kernel workers sharing one WebAssembly.Memory, driven synchronously.
 *
 * Each worker (worker-source.ts) instantiates the same kernel module against the shared memory and
 * owns a control slot there, SLOT_BYTES in its own heap block (no false sharing):
 *   int32 words [SEQ, DONE, READY, ERROR, OP, NARGS, -, -], then float64 ARGS × MAX_ARGS
 * A call: the caller writes OP (an index into the module's export list), NARGS and the ARGS
 * (numbers: i32 parameters take them as ToInt32, float ones as they are), then bumps SEQ
 * (Atomics.store + notify). The worker, which polls SEQ briefly and then sleeps in Atomics.wait,
 * runs exports[OP](...ARGS), sets ERROR, stores SEQ into DONE and notifies. The caller runs its own
 * share meanwhile, then polls briefly and waits for every DONE to reach its SEQ (polling first saves
 * the futex wake-up, 20–200 µs here, when calls come back to back). Tasks never overlap in their
 * outputs, so nothing else needs synchronising; the Atomics store/load pairs on SEQ and DONE order
 * the argument writes before the call and the results before the caller reads them.
 *
 * Workers start asynchronously (the platform's Worker is created, then it instantiates the module
 * and sets READY); until a worker is ready the caller runs its share itself, so the backend never
 * waits for a thread to start, and every kernel splits its work so that the result is the same,
 * bit for bit, whatever the number of threads. A browser's main thread may not block: there the
 * caller polls DONE instead of sleeping in Atomics.wait.
 */
import type { WasmHeap } from './heap.ts';
import type { WasmMemory, WasmModule } from './wasm-api.ts';
import { fail } from '../../../../errors.ts';

/** Slot layout: int32 word indices, then the float64 arguments from byte ARGS_BYTE. */
export const SEQ = 0, DONE = 1, READY = 2, ERROR = 3, OP = 4, NARGS = 5, ARGS_BYTE = 32, MAX_ARGS = 24;
const SLOT_BYTES = ARGS_BYTE + 8 * MAX_ARGS;
/** Polls of a DONE word before sleeping (workers do the same on SEQ): ≈ 30–60 µs. */
const SPINS = 4000;
/** A worker that has not answered after this long, and 50× the caller's own share, is taken for lost. */
const LOST_MS = 10_000;

/** One call: exports[op](...args). */
export interface Task {
  op: number;
  args: number[];
}

/** What a worker is started with (structured-cloned to it). */
export interface WorkerInit {
  module: WasmModule;
  memory: WasmMemory;
  /** Byte address of its control slot. */
  control: number;
  exportNames: readonly string[];
  /** Math functions the module imports (env.<name> = Math[name]). */
  mathImports: readonly string[];
  maxArgs: number;
}

/** A started worker, as the platform gives it (platform.ts). */
export interface WorkerHandle {
  terminate(): void;
}

/** Starts workers on this platform; `onFail` is called if one cannot start or dies. */
export type Spawn = (init: WorkerInit, onFail: (why: string) => void) => WorkerHandle;

interface Slot {
  ctl: Int32Array;
  args: Float64Array;
  ptr: number;
  handle: WorkerHandle;
  failed: string | null;
}

export class ThreadPool {
  private readonly slots: Slot[] = [];
  private seq = 0;
  /** Why the pool stopped using its workers, if it did. */
  broken: string | null = null;

  /**
   * @param callerExports the calling thread's own instance's exports, indexed like init.exportNames
   * @param canBlock whether this thread may sleep in Atomics.wait
   */
  constructor(
    private readonly heap: WasmHeap,
    private readonly init: Omit<WorkerInit, 'control' | 'maxArgs'>,
    private readonly callerExports: readonly ((...args: number[]) => void)[],
    private readonly canBlock: boolean,
  ) {}

  /** Workers started so far. */
  get started(): number {
    return this.slots.length;
  }

  /** Starts workers until there are `count` (never stops any: a smaller thread count uses fewer). */
  grow(count: number, spawn: Spawn): void {
    while (this.slots.length < count && !this.broken) {
      const ptr = this.heap.alloc(SLOT_BYTES);
      if (!ptr) return;
      const buffer = this.heap.buffer;
      const ctl = new Int32Array(buffer, ptr, ARGS_BYTE / 4).fill(0);
      const slot: Slot = { ctl, args: new Float64Array(buffer, ptr + ARGS_BYTE, MAX_ARGS), ptr, handle: { terminate() {} }, failed: null };
      this.slots.push(slot);
      try {
        slot.handle = spawn({ ...this.init, control: ptr, maxArgs: MAX_ARGS }, (why) => (slot.failed = why));
      } catch (e) {
        slot.failed = (e as Error).message;
      }
    }
  }

  /** Why a worker failed to start or died, if one did. */
  failures(): string | null {
    return this.slots.find((s) => s.failed)?.failed ?? null;
  }

  /** Threads that can run a task now, the caller included: 1 + the first `limit` workers that are ready. */
  ready(limit: number): number {
    let n = 1;
    for (const s of this.slots) {
      if (n > limit || s.failed || Atomics.load(s.ctl, READY) !== 1) break;
      n++;
    }
    return this.broken ? 1 : Math.min(n, limit + 1);
  }

  /** Runs tasks[0] here and tasks[t] on worker t − 1 (all ready); returns when all are done. */
  run(tasks: readonly Task[]): void {
    const seq = ++this.seq;
    for (let t = 1; t < tasks.length; t++) {
      const slot = this.slots[t - 1]!, task = tasks[t]!;
      if (task.args.length > MAX_ARGS) throw new Error(`wasm kernel call with ${task.args.length} arguments (at most ${MAX_ARGS})`);
      slot.ctl[OP] = task.op;
      slot.ctl[NARGS] = task.args.length;
      slot.args.set(task.args);
      Atomics.store(slot.ctl, SEQ, seq);
      Atomics.notify(slot.ctl, SEQ);
    }
    const t0 = performance.now();
    const first = tasks[0]!;
    this.callerExports[first.op]!(...first.args);
    const patience = Math.max(LOST_MS, 50 * (performance.now() - t0));
    let failed = false;
    for (let t = 1; t < tasks.length; t++) {
      const slot = this.slots[t - 1]!;
      this.await(slot, seq, t0 + patience);
      failed ||= slot.ctl[ERROR] !== 0;
    }
    if (failed) fail('cpu', 'a WebAssembly kernel failed on a worker thread (see its error output)');
  }

  /** Stops the workers and releases their control slots. */
  close(): void {
    const seq = ++this.seq;
    for (const slot of this.slots) {
      slot.ctl[OP] = -1;
      Atomics.store(slot.ctl, SEQ, seq);
      Atomics.notify(slot.ctl, SEQ);
      slot.handle.terminate();
      this.heap.free(slot.ptr, SLOT_BYTES);
    }
    this.slots.length = 0;
  }

  /** Waits for a slot's DONE to reach seq: polls, then sleeps (or keeps polling where it may not block). */
  private await(slot: Slot, seq: number, deadline: number): void {
    let d = Atomics.load(slot.ctl, DONE);
    for (let i = 0; d !== seq && i < SPINS; i++) d = Atomics.load(slot.ctl, DONE);
    while (d !== seq) {
      if (this.canBlock) Atomics.wait(slot.ctl, DONE, d, 100);
      else for (let i = 0; d === Atomics.load(slot.ctl, DONE) && i < SPINS; i++);
      d = Atomics.load(slot.ctl, DONE);
      if (d !== seq && performance.now() > deadline) {
        this.broken = `a worker thread did not answer (${slot.failed ?? 'no error reported'})`;
        fail('cpu', `${this.broken}; the CPU backend continues on one thread`);
      }
    }
  }
}
