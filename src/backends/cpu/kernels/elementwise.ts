import type { BinaryOp, ElementwiseKernels, UnaryOp } from '../../backend.ts';
import { typedArrayFor, type DType, type TypedArray } from '../../../dtype.ts';
import { decodeHalfArray, encodeHalf, encodeHalfArray, HALF_FORMATS, isHalf } from '../../../half-float.ts';
import { broadcastStrides, contiguousStrides } from '../../../shape.ts';
import { forEachRow } from '../rows.ts';
import { like, type FloatArray } from '../float-array.ts';
import { gelu, geluErf, geluErfGrad, geluGrad, sigmoid } from '../math.ts';
import { elements, floats, type Cpu } from './cpu.ts';

/** y = f(x). One loop per op keeps each loop monomorphic (no call through a variable in it). */
export function unary(op: UnaryOp, x: FloatArray, p: number): FloatArray {
  const n = x.length, y = like(x);
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) y[i] = -x[i]!; break;
    case 'exp': for (let i = 0; i < n; i++) y[i] = Math.exp(x[i]!); break;
    case 'log': for (let i = 0; i < n; i++) y[i] = Math.log(x[i]!); break;
    case 'sqrt': for (let i = 0; i < n; i++) y[i] = Math.sqrt(x[i]!); break;
    case 'abs': for (let i = 0; i < n; i++) y[i] = Math.abs(x[i]!); break;
    case 'tanh': for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]!); break;
    case 'sigmoid': for (let i = 0; i < n; i++) y[i] = sigmoid(x[i]!); break;
    case 'relu': for (let i = 0; i < n; i++) y[i] = x[i]! > 0 ? x[i]! : 0; break;
    case 'gelu': for (let i = 0; i < n; i++) y[i] = gelu(x[i]!); break;
    case 'geluErf': for (let i = 0; i < n; i++) y[i] = geluErf(x[i]!); break;
    case 'silu': for (let i = 0; i < n; i++) y[i] = x[i]! * sigmoid(x[i]!); break;
    case 'pow': for (let i = 0; i < n; i++) y[i] = Math.pow(x[i]!, p); break;
  }
  return y;
}

/** dx = g·f'(·) from the tensor UNARY_GRAD_NEEDS names (s is x or y). */
export function unaryGrad(op: UnaryOp, s: FloatArray, g: FloatArray, p: number): FloatArray {
  const n = g.length, dx = like(g);
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) dx[i] = -g[i]!; break;
    case 'exp': for (let i = 0; i < n; i++) dx[i] = g[i]! * s[i]!; break;
    case 'log': for (let i = 0; i < n; i++) dx[i] = g[i]! / s[i]!; break;
    case 'sqrt': for (let i = 0; i < n; i++) dx[i] = g[i]! / (2 * s[i]!); break;
    case 'abs': for (let i = 0; i < n; i++) dx[i] = g[i]! * Math.sign(s[i]!); break;
    case 'tanh': for (let i = 0; i < n; i++) dx[i] = g[i]! * (1 - s[i]! * s[i]!); break;
    case 'sigmoid': for (let i = 0; i < n; i++) dx[i] = g[i]! * s[i]! * (1 - s[i]!); break;
    case 'relu': for (let i = 0; i < n; i++) dx[i] = s[i]! > 0 ? g[i]! : 0; break;
    case 'gelu': for (let i = 0; i < n; i++) dx[i] = g[i]! * geluGrad(s[i]!); break;
    case 'geluErf': for (let i = 0; i < n; i++) dx[i] = g[i]! * geluErfGrad(s[i]!); break;
    case 'silu':
      for (let i = 0; i < n; i++) {
        const sg = sigmoid(s[i]!);
        dx[i] = g[i]! * sg * (1 + s[i]! * (1 - sg));
      }
      break;
    case 'pow':
      // d/dx x⁰ = 0 everywhere (not 0·x⁻¹, which is 0·∞ = NaN at x = 0); dx is already zero
      if (p !== 0) for (let i = 0; i < n; i++) dx[i] = g[i]! * p * Math.pow(s[i]!, p - 1);
      break;
  }
  return dx;
}

/** out = a ∘ b, broadcast; one inner loop per op. */
export function binary(op: BinaryOp, a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[], outShape: readonly number[]): FloatArray {
  const out = like(a, outShape.reduce((x, y) => x * y, 1));
  const strides = [contiguousStrides(outShape), broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)];
  forEachRow(outShape, strides, (off, len, st) => {
    let o = off[0]!, i = off[1]!, j = off[2]!;
    const sa = st[1]!, sb = st[2]!;
    switch (op) {
      case 'add': for (let t = 0; t < len; t++, o++, i += sa, j += sb) out[o] = a[i]! + b[j]!; break;
      case 'sub': for (let t = 0; t < len; t++, o++, i += sa, j += sb) out[o] = a[i]! - b[j]!; break;
      case 'mul': for (let t = 0; t < len; t++, o++, i += sa, j += sb) out[o] = a[i]! * b[j]!; break;
      case 'div': for (let t = 0; t < len; t++, o++, i += sa, j += sb) out[o] = a[i]! / b[j]!; break;
      case 'eq': for (let t = 0; t < len; t++, o++, i += sa, j += sb) out[o] = a[i] === b[j] ? 1 : 0; break;
      case 'gt': for (let t = 0; t < len; t++, o++, i += sa, j += sb) out[o] = a[i]! > b[j]! ? 1 : 0; break;
    }
  });
  return out;
}

/** out = cond ≠ 0 ? a : b, broadcast. */
export function where(cond: TypedArray, condShape: readonly number[], a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[], outShape: readonly number[]): FloatArray {
  const out = like(a, outShape.reduce((x, y) => x * y, 1));
  const strides = [contiguousStrides(outShape), broadcastStrides(condShape, outShape), broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)];
  forEachRow(outShape, strides, (off, len, st) => {
    let o = off[0]!, c = off[1]!, i = off[2]!, j = off[3]!;
    const sc = st[1]!, sa = st[2]!, sb = st[3]!;
    for (let t = 0; t < len; t++, o++, c += sc, i += sa, j += sb) out[o] = cond[c] !== 0 ? a[i]! : b[j]!;
  });
  return out;
}

const INT32_MIN = -2147483648, INT32_MAX = 2147483647;

/**
 * Converts x (of dtype `from`) to dtype. To int32 (as the WebGPU cast): NaN → 0, x ≥ 2³¹ (+∞ too)
 * → 2³¹ − 1, x < −2³¹ (−∞ too) → −2³¹, else truncation toward zero (an Int32Array alone would
 * wrap mod 2³²). To float16/bfloat16: rounded once from the exact value (half-float.ts).
 */
export function cast(x: TypedArray, from: DType, dtype: DType): TypedArray {
  if (isHalf(from) && (dtype === 'float32' || dtype === 'float64')) return decodeHalfArray(from, x as Uint16Array, typedArrayFor(dtype, x.length) as FloatArray);
  const values = isHalf(from) ? decodeHalfArray(from, x as Uint16Array) : x;
  if (isHalf(dtype)) return from === dtype ? x.slice() : encodeHalfArray(dtype, values);
  const y = typedArrayFor(dtype, x.length);
  if (dtype !== 'int32' || values instanceof Int32Array) y.set(values);
  else {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      y[i] = v !== v ? 0 : v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : Math.trunc(v);
    }
  }
  return y;
}

export function full(dtype: DType, size: number, value: number): TypedArray {
  return typedArrayFor(dtype, size).fill(isHalf(dtype) ? encodeHalf(HALF_FORMATS[dtype], value) : value);
}

export function elementwiseKernels(cpu: Cpu): ElementwiseKernels {
  return {
    full: (dtype, size, value) => cpu.adopt(full(dtype, size, value), dtype),
    cast: (x, dtype) => cpu.adopt(cast(elements(x), x.dtype, dtype), dtype),
    unary: (op, x, p) => cpu.adopt(unary(op, floats(x), p)),
    unaryGrad: (op, s, g, p) => cpu.adopt(unaryGrad(op, floats(s), floats(g), p)),
    binaryScalar: (op, x, value, valueFirst) => {
      const v = like(floats(x), 1), n = [x.size];
      v[0] = value;
      return cpu.adopt(valueFirst ? binary(op, v, [], floats(x), n, n) : binary(op, floats(x), n, v, [], n));
    },
    binary: (op, a, as, b, bs, os) => cpu.adopt(binary(op, floats(a), as, floats(b), bs, os)),
    where: (c, cs, a, as, b, bs, os) => cpu.adopt(where(elements(c), cs, floats(a), as, floats(b), bs, os)),
  };
}
