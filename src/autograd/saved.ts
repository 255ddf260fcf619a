import type { Storage } from '../backends/backend.ts';
import type { DType } from '../dtype.ts';

/**
 * Saved-tensor accounting: the bytes autograd holds for backward, counted exactly.
 *
 * - Deduplicated by storage: two ops saving the same tensor (or views of it) count it once.
 * - Parameters cost nothing: a saved reference to a weight is not an activation; it is listed
 *   with kind 'parameter' and 0 bytes. A tensor is a parameter exactly when it is marked so
 *   (`isParameter`: nn modules' weights and buffers, factories' `{ parameter: true }`, views and
 *   detached copies of those); an input that merely requires grad is an activation.
 * - Live bytes drop when a graph is released (after backward without retainGraph).
 */
export interface SavedEntry {
  op: string;
  /** Dotted module path at the time of the save ('' outside any module). */
  module: string;
  shape: number[];
  dtype: DType;
  /** Bytes this save added to the live total: 0 for parameters and for storage already saved. */
  bytes: number;
  kind: 'activation' | 'parameter';
}

export interface SavedReport<T = unknown> {
  /** Saved activation bytes still live when fn returned. */
  bytes: number;
  /** The most saved activation bytes live at any point during fn (relative to its start). */
  peakBytes: number;
  entries: SavedEntry[];
  /** What fn returned. */
  result: T;
}

interface Recorder {
  startLive: number;
  peak: number;
  entries: SavedEntry[];
}

const live = new Map<number, { bytes: number; refs: number }>();
const recorders: Recorder[] = [];
let liveBytes = 0;
let peakBytes = 0;
const moduleStack: string[] = [];

/** Records a save; returns a release function to call once the saving context lets go. */
export function recordSave(storage: Storage, shape: number[], op: string, module: string, kind: SavedEntry['kind']): () => void {
  let bytes = 0;
  if (kind === 'activation') {
    const rec = live.get(storage.id);
    if (rec) rec.refs++;
    else {
      bytes = storage.bytes;
      live.set(storage.id, { bytes, refs: 1 });
      liveBytes += bytes;
      peakBytes = Math.max(peakBytes, liveBytes);
    }
  }
  const entry: SavedEntry = { op, module, shape: [...shape], dtype: storage.dtype, bytes, kind };
  for (const r of recorders) {
    r.entries.push(entry);
    r.peak = Math.max(r.peak, liveBytes - r.startLive);
  }
  if (kind === 'parameter') return () => {};
  return () => {
    const rec = live.get(storage.id)!;
    if (--rec.refs === 0) {
      live.delete(storage.id);
      liveBytes -= rec.bytes;
    }
  };
}

/** Saved activation bytes currently held by live graphs, and the peak since the last reset. */
export function savedStats(): { liveBytes: number; peakBytes: number } {
  return { liveBytes, peakBytes };
}

export function resetSavedPeak(): void {
  peakBytes = liveBytes;
}

/**
 * Runs fn and reports what autograd saved during it:
 *   const { bytes, peakBytes, entries, result } = measureSaved(() => model.forward(x));
 */
export function measureSaved<T>(fn: () => T): SavedReport<T> {
  const rec: Recorder = { startLive: liveBytes, peak: 0, entries: [] };
  recorders.push(rec);
  try {
    const result = fn();
    return { bytes: liveBytes - rec.startLive, peakBytes: rec.peak, entries: rec.entries, result };
  } finally {
    recorders.splice(recorders.indexOf(rec), 1);
  }
}

/** Runs fn with `name` appended to the module path that saves are attributed to. */
export function withModule<T>(name: string, fn: () => T): T {
  moduleStack.push(name);
  try {
    return fn();
  } finally {
    moduleStack.pop();
  }
}

export function currentModule(): string {
  return moduleStack.join('.');
}
