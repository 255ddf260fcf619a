/**
 * The Tensor class as the engine below it sees it. tensor.ts imports the ops (a tensor's chainable
 * methods call them) and the engine (`backward()`), so the ops and the engine cannot import the
 * class back without an import circle. They make and recognise tensors through these functions
 * instead; tensor.ts registers its class here when it loads, which is before any tensor can exist
 * (every op takes a tensor, and every tensor comes from tensor.ts).
 */
import type { Storage } from '../backends/backend.ts';
import type { Tensor, TensorInit } from '../tensor.ts';

type TensorClass = new (storage: Storage, shape: readonly number[], init?: TensorInit) => Tensor;

let tensorClass: TensorClass | null = null;

/** Called once, by tensor.ts, as it loads. */
export function registerTensorClass(cls: TensorClass): void {
  tensorClass = cls;
}

/** A new tensor over storage (which it adopts: the caller hands over one reference). */
export function newTensor(storage: Storage, shape: readonly number[], init?: TensorInit): Tensor {
  return new tensorClass!(storage, shape, init);
}

/** Whether v is a Tensor. */
export function isTensor(v: unknown): v is Tensor {
  return tensorClass !== null && v instanceof tensorClass;
}
