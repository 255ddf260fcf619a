import type { Tensor } from '../tensor.ts';
import { newTensor } from './tensor-class.ts';
import { describe, fail } from '../errors.ts';
import { recordSave, type SavedEntry } from './saved.ts';
import type { DType } from '../dtype.ts';

/** One tensor a context keeps for backward, as graph.ts reports it. */
export interface SavedTensorInfo {
  storageId: number;
  /** The whole storage's bytes (what measureSaved counts for an activation, once per storage). */
  storageBytes: number;
  shape: readonly number[];
  dtype: DType;
  kind: SavedEntry['kind'];
}

/**
 * How a tensor saved for backward is held, as PyTorch's saved-tensor hooks: a context hands each
 * tensor it saves to `packSaved` and gets a slot back; backward unpacks the slot, and releasing the
 * graph releases it. Without a packer the slot keeps the tensor (`KeptSlot`); activation
 * checkpointing (checkpoint.ts) installs a packer that may instead keep nothing and recompute
 * the tensor when backward first asks for it.
 */
export interface SavedSlot {
  /** The saved tensor (throws if it was modified in place after it was saved). */
  unpack(): Tensor;
  /** Lets go of the tensor (once; later calls do nothing). */
  release(): void;
}

/** Decides how saves made while it is installed are held. */
export interface SavePacker {
  /** producer: the op that computed t (null for a leaf or a constant input). */
  pack(t: Tensor, op: string, module: string, producer: string | null): SavedSlot;
}

const packers: SavePacker[] = [];

/** The innermost packer, if any: saves made now go through it; without one they are kept (`KeptSlot`). */
export function currentPacker(): SavePacker | undefined {
  return packers[packers.length - 1];
}

/** Holds t for backward through the innermost packer, or keeps it. */
export function packSaved(t: Tensor, op: string, module: string, producer: string | null): SavedSlot {
  const packer = currentPacker();
  return packer ? packer.pack(t, op, module, producer) : new KeptSlot(t, op, module);
}

/** Runs fn with packer deciding how saves are held (the innermost packer wins). */
export function withPacker<T>(packer: SavePacker, fn: () => T): T {
  packers.push(packer);
  try {
    return fn();
  } finally {
    packers.splice(packers.lastIndexOf(packer), 1);
  }
}

/**
 * Keeps t through its own alias of the storage (so disposing the original handle does not break
 * backward), counted by saved.ts until released; unpacking checks t was not changed in place since.
 * (A class, not closures: one is made per save, a million in a deep graph.)
 */
export class KeptSlot implements SavedSlot {
  private readonly alias: Tensor;
  private readonly version: number;
  private readonly kind: 'parameter' | 'activation';
  private forget: (() => void) | null;

  constructor(t: Tensor, private readonly op: string, module: string) {
    this.kind = t.isParameter ? 'parameter' : 'activation';
    this.forget = recordSave(t.storage, [...t.shape], op, module, this.kind);
    t.storage.retain();
    this.alias = newTensor(t.storage, t.shape, { untracked: true });
    this.version = t.version;
  }

  unpack(): Tensor {
    if (this.alias.version !== this.version) {
      fail(this.op, `${describe('a tensor saved for backward,', this.alias)} was modified in place after it was saved ` +
        `(version ${this.alias.version}, saved at version ${this.version}); gradients would be wrong`);
    }
    return this.alias;
  }

  /** What is kept, for graph.ts. */
  get info(): SavedTensorInfo {
    const t = this.alias;
    return { storageId: t.storage.id, storageBytes: t.storage.bytes, shape: t.shape, dtype: t.dtype, kind: this.kind };
  }

  release(): void {
    if (!this.forget) return;
    this.forget();
    this.forget = null;
    this.alias.dispose(); // an untracked alias without a graph: no recursion
  }
}
