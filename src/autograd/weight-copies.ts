import type { Storage } from '../backends/backend.ts';

/**
 * Storages that are 16-bit copies of weights made by autocast (autocast.ts): saved.ts lists their
 * saves with `weightCopy: true`, so memory accounting can tell them from activations.
 */
const copies = new WeakSet<Storage>();

export function markWeightCopy(storage: Storage): void {
  copies.add(storage);
}

export function isWeightCopy(storage: Storage): boolean {
  return copies.has(storage);
}
