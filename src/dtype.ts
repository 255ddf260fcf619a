import { fail } from './errors.ts';

/**
 * Element types. float32 is the default; float64 is the CPU reference; int32 holds indices.
 * float16 and bfloat16 are stored at 2 bytes per element as bit patterns in a Uint16Array
 * (half-float.ts converts), and computed in float32.
 */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32';
export type Device = 'cpu' | 'webgpu';
/** A storage's host array; float16 and bfloat16 elements are bit patterns in a Uint16Array. */
export type TypedArray = Float32Array | Float64Array | Uint16Array | Int32Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32'];

export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
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
      case 'float16': case 'bfloat16': return new Uint16Array(size);
      case 'int32': return new Int32Array(size);
    }
  } catch (e) {
    return fail('alloc', `cannot allocate ${size} ${dtype} elements (${size * BYTES_PER_ELEMENT[dtype]} bytes) on the host: ${(e as Error).message}`);
  }
}

/**
 * The dtype a host array holds. A Uint16Array holds float16 or bfloat16 bits, which the array
 * cannot tell: pass that dtype as `half`, or it is an error naming `op`.
 */
export function dtypeOfArray(a: TypedArray, half?: DType, op = 'tensor'): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Uint16Array) {
    if (half === 'float16' || half === 'bfloat16') return half;
    return fail(op, `a Uint16Array holds float16 or bfloat16 bit patterns; pass dtype: 'float16' or 'bfloat16' (got ${half ?? 'none'})`);
  }
  return 'int32';
}
