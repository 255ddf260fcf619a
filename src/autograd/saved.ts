import type { Storage } from '../backends/backend.ts';
import type { DType } from '../dtype.ts';
import { isWeightCopy } from './weight-copies.ts';

/**
 * Saved-tensor accounting: the bytes autograd holds for backward, counted exactly.
 *
 * - Deduplicated by storage: two ops saving the same tensor (or views of it) count it once.
 * - Parameters cost nothing: a saved reference to a weight is not an activation; it is listed
 *   with kind 'parameter' and 0 bytes. A tensor is a parameter exactly when it is marked so
 *   (`isParameter`: nn modules' weights and buffers, factories' `{ parameter: true }`, views and
 *   detached copies of those); an input that merely requires grad is an activation.
 * - A save that activation checkpointing drops (checkpoint.ts: its policy recomputes the tensor in
 *   backward instead of keeping it) is listed with kind 'recomputed' and 0 bytes; the recomputed
 *   tensor counts while backward holds it.
 * - Live bytes drop when a graph is released (after backward without retainGraph).
 */
export interface SavedEntry {
  op: string;
  /** Dotted module path at the time of the save ('' outside any module). */
  module: string;
  shape: number[];
  dtype: DType;
  /** Bytes this save added to the live total: 0 for parameters, recomputed saves and storage already saved. */
  bytes: number;
  kind: 'activation' | 'parameter' | 'recomputed';
  /** An autocast copy of a weight (autocast.ts): counted in bytes like an activation, listed apart. */
  weightCopy?: true;
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

/** Live saved storages by id: their bytes, how many saves hold them, and the first save's op and module. */
const live = new Map<number, { bytes: number; refs: number; op: string; module: string }>();
const recorders: Recorder[] = [];
let liveBytes = 0;
let peakBytes = 0;
const moduleStack: string[] = [];

/** Records a save; returns a release function to call once the saving context lets go. */
export function recordSave(storage: Storage, shape: number[], op: string, module: string, kind: 'activation' | 'parameter'): () => void {
  let bytes = 0;
  if (kind === 'activation') {
    const rec = live.get(storage.id);
    if (rec) rec.refs++;
    else {
      bytes = storage.bytes;
      live.set(storage.id, { bytes, refs: 1, op, module });
      liveBytes += bytes;
      peakBytes = Math.max(peakBytes, liveBytes);
    }
  }
  addEntry({ op, module, shape: [...shape], dtype: storage.dtype, bytes, kind, ...(isWeightCopy(storage) ? { weightCopy: true as const } : {}) });
  if (kind === 'parameter') return () => {};
  return () => {
    const rec = live.get(storage.id)!;
    if (--rec.refs === 0) {
      live.delete(storage.id);
      liveBytes -= rec.bytes;
    }
  };
}

/** Lists a save that checkpointing recomputes in backward instead of keeping (0 bytes now). */
export function recordRecomputed(storage: Storage, shape: number[], op: string, module: string): void {
  addEntry({ op, module, shape: [...shape], dtype: storage.dtype, bytes: 0, kind: 'recomputed' });
}

function addEntry(entry: SavedEntry): void {
  for (const r of recorders) {
    r.entries.push(entry);
    r.peak = Math.max(r.peak, liveBytes - r.startLive);
  }
}

/** The live saved storages summed by the op and module that first saved each: what holds the saved bytes now. */
export function liveSavedHolders(): { op: string; module: string; bytes: number }[] {
  const byHolder = new Map<string, { op: string; module: string; bytes: number }>();
  for (const { op, module, bytes } of live.values()) {
    const key = `${module}\u0000${op}`;
    const h = byHolder.get(key) ?? byHolder.set(key, { op, module, bytes: 0 }).get(key)!;
    h.bytes += bytes;
  }
  return [...byHolder.values()].sort((a, b) => b.bytes - a.bytes);
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

/** The module path as a list of names (checkpointing restores it when it recomputes). */
export function currentModulePath(): readonly string[] {
  return [...moduleStack];
}

/** Runs fn with the module path set to `path` (then restores the one before). */
export function withModulePath<T>(path: readonly string[], fn: () => T): T {
  const before = moduleStack.splice(0, moduleStack.length, ...path);
  try {
    return fn();
  } finally {
    moduleStack.splice(0, moduleStack.length, ...before);
  }
}
