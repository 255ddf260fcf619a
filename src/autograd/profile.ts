import { defaultDevice, getBackend } from '../backends/registry.ts';
import type { Device } from '../dtype.ts';
import { listenToOps, type OpPhase } from './op-events.ts';
import { liveSavedHolders, savedStats } from './saved.ts';

/**
 * A memory timeline, like PyTorch's memory snapshot: `profileMemory(fn)` runs fn and, after every
 * op's forward and every op's backward step inside it (op-events.ts), samples
 *   allocatedBytes = the device's live allocated bytes (its AllocationTracker, via backend.memory())
 *   savedBytes     = the live bytes autograd saved for backward (saved.ts)
 * each minus its value when fn began, so weights and anything made before are not counted. Samples
 * are taken between ops: a temporary an op makes and frees inside itself is not seen.
 *
 * The peak is the first event with the most allocated bytes; `holders` is what the saved bytes
 * were at that moment, summed by the op and module that saved them (largest first), and
 * `otherBytes` the rest of the allocation (outputs not saved, gradients, temporaries).
 *
 *   const { events, peak } = profileMemory(() => { model.loss(x, y).backward(); });
 */
export interface MemoryEvent {
  index: number;
  /** 'forward', 'backward', or 'recompute' (a checkpoint's recomputation during backward). */
  phase: OpPhase;
  op: string;
  /** Dotted module path ('' outside any module). */
  module: string;
  allocatedBytes: number;
  savedBytes: number;
}

export interface MemoryPeak {
  event: MemoryEvent;
  holders: { op: string; module: string; bytes: number }[];
  otherBytes: number;
}

export interface MemoryProfile<T = unknown> {
  events: MemoryEvent[];
  /** null when fn ran no op. */
  peak: MemoryPeak | null;
  result: T;
}

export function profileMemory<T>(fn: () => T, options: { device?: Device } = {}): MemoryProfile<T> {
  const backend = getBackend(options.device ?? defaultDevice());
  const startAllocated = backend.memory().liveBytes;
  const startSaved = savedStats().liveBytes;
  const events: MemoryEvent[] = [];
  let peak: MemoryPeak | null = null;
  const result = listenToOps((e) => {
    if (e.backend !== backend) return;
    const event: MemoryEvent = {
      index: events.length, phase: e.phase, op: e.op, module: e.module,
      allocatedBytes: backend.memory().liveBytes - startAllocated,
      savedBytes: savedStats().liveBytes - startSaved,
    };
    events.push(event);
    if (!peak || event.allocatedBytes > peak.event.allocatedBytes) {
      peak = { event, holders: liveSavedHolders(), otherBytes: event.allocatedBytes - event.savedBytes };
    }
  }, fn);
  if (result instanceof Promise) throw new TypeError('profileMemory: fn returned a Promise; it needs a synchronous fn (ops after an await would not be recorded)');
  return { events, peak, result };
}
