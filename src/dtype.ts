import { fail } from './errors.ts';

/** Element types. float32 is the default; float64 is the CPU reference; int32 holds indices. */
export type DType = 'float32' | 'float64' | 'int32';
export type Device = 'cpu' | 'webgpu';
export type TypedArray = Float32Array | Float64Array | Int32Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  int32: 4,
};

export function isFloat(dtype: DType): boolean {
  return dtype !== 'int32';
}

/** A zeroed array of `size` elements of dtype; an allocation the host refuses is a LorafaError saying so. */
export function typedArrayFor(dtype: DType, size: number): TypedArray {
  try {
    switch (dtype) {
      case 'float32': return new Float32Array(size);
      case 'float64': return new Float64Array(size);
      case 'int32': return new Int32Array(size);
    }
  } catch (e) {
    return fail('alloc', `cannot allocate ${size} ${dtype} elements (${size * BYTES_PER_ELEMENT[dtype]} bytes) on the host: ${(e as Error).message}`);
  }
}

export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  return 'int32';
}
