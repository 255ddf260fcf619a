import { typedArrayFor, type TypedArray } from '../../dtype.ts';

/** The element arrays of float tensors on the CPU. */
export type FloatArray = Float32Array | Float64Array;

/** A zeroed array of `size` elements (x's length by default): Float64Array for a float64 x, else Float32Array. */
export function like(x: TypedArray, size = x.length): FloatArray {
  return typedArrayFor(x instanceof Float64Array ? 'float64' : 'float32', size) as FloatArray;
}
