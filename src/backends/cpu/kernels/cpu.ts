/** What the CPU kernel groups need from the backend, and typed views of its storages. */
import type { Storage } from '../../backend.ts';
import type { DType, TypedArray } from '../../../dtype.ts';
import type { FloatArray } from '../float-array.ts';

export interface Cpu {
  /** Adopts a typed array (no copy) as a new storage of this backend; dtype is required for a Uint16Array (16-bit bits). */
  adopt(data: TypedArray, dtype?: DType): Storage;
}

/** The elements of a CPU storage, whatever its dtype. */
export function elements(s: Storage): TypedArray {
  return s.handle as TypedArray;
}

/** The elements of a float CPU storage. */
export function floats(s: Storage): FloatArray {
  return s.handle as FloatArray;
}

/** The elements of an int32 CPU storage (indices). */
export function ints(s: Storage): Int32Array {
  return s.handle as Int32Array;
}
