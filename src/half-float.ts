import type { DType } from './dtype.ts';

/**
 * The two 16-bit float formats, as bit patterns in a Uint16Array (how lorafa stores them):
 *
 *   float16  (IEEE 754 binary16): sign 1 | exponent 5 (bias 15)  | fraction 10.
 *            Largest finite 65504, smallest normal 2⁻¹⁴, smallest subnormal 2⁻²⁴, ε = 2⁻¹⁰.
 *   bfloat16 (float32's top half): sign 1 | exponent 8 (bias 127) | fraction 7.
 *            float32's range, smallest subnormal 2⁻¹³³, ε = 2⁻⁷.
 *
 * Encoding rounds the exact value (a JavaScript number, i.e. any float64) to the nearest
 * representable one, ties to the even fraction — once, never through float32 first, so there is
 * no double rounding. Values past the largest finite one round to ±Infinity exactly where
 * IEEE 754 says (float16: |x| ≥ 65520). NaN stays NaN (quiet, sign kept); −0 stays −0.
 */
export interface HalfFormat {
  readonly dtype: HalfDType;
  readonly fractionBits: number;
  readonly exponentBias: number;
  /** The largest biased exponent of a finite value (all-ones is Inf/NaN). */
  readonly maxExponent: number;
  /** Machine epsilon 2^−fractionBits: the spacing of values in [1, 2). */
  readonly epsilon: number;
  readonly maxFinite: number;
  readonly minNormal: number;
  readonly minSubnormal: number;
}

export type HalfDType = 'float16' | 'bfloat16';

function format(dtype: HalfDType, exponentBits: number, fractionBits: number): HalfFormat {
  const exponentBias = 2 ** (exponentBits - 1) - 1;
  const maxExponent = 2 ** exponentBits - 2;
  return {
    dtype,
    fractionBits,
    exponentBias,
    maxExponent,
    epsilon: 2 ** -fractionBits,
    maxFinite: (2 - 2 ** -fractionBits) * 2 ** (maxExponent - exponentBias),
    minNormal: 2 ** (1 - exponentBias),
    minSubnormal: 2 ** (1 - exponentBias - fractionBits),
  };
}

export const HALF_FORMATS: Readonly<Record<HalfDType, HalfFormat>> = {
  float16: format('float16', 5, 10),
  bfloat16: format('bfloat16', 8, 7),
};

export function isHalf(dtype: DType): dtype is HalfDType {
  return dtype === 'float16' || dtype === 'bfloat16';
}

/** y rounded to an integer, ties to even (y ≥ 0; y − ⌊y⌋ is exact in float64). */
function roundHalfEven(y: number): number {
  const r = Math.floor(y), diff = y - r;
  return diff > 0.5 || (diff === 0.5 && r % 2 === 1) ? r + 1 : r;
}

/** ⌊log₂ a⌋ exactly, for a finite a > 0 (Math.log2 may be off by one next to a power of two). */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/** The bit pattern of x rounded to the format (see HalfFormat for the rounding). */
export function encodeHalf(f: HalfFormat, x: number): number {
  const signBit = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const fractionOnes = (1 << f.fractionBits) - 1;
  const infinity = signBit | ((f.maxExponent + 1) << f.fractionBits);
  if (Number.isNaN(x)) return infinity | (1 << (f.fractionBits - 1)); // quiet NaN
  const a = Math.abs(x);
  if (a === Infinity) return infinity;
  if (a < f.minNormal) {
    // Subnormal: a = q·minSubnormal with q < 2^fractionBits; q = 2^fractionBits carries into the smallest normal.
    return signBit | roundHalfEven(a / f.minSubnormal);
  }
  let e = exponentOf(a);
  // a = m·2^e with m ∈ [1, 2); the fraction is (m − 1)·2^fractionBits, exact in float64 before rounding.
  let q = roundHalfEven((a / 2 ** e - 1) * 2 ** f.fractionBits);
  if (q > fractionOnes) { q = 0; e++; }
  const biased = e + f.exponentBias;
  if (biased > f.maxExponent) return infinity;
  return signBit | (biased << f.fractionBits) | q;
}

/** The value of a bit pattern (exact: every 16-bit float is a float32, and so a number). */
export function decodeHalf(f: HalfFormat, bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const biased = (bits & 0x7fff) >> f.fractionBits;
  const fraction = bits & ((1 << f.fractionBits) - 1);
  if (biased === 0) return sign * fraction * f.minSubnormal;
  if (biased === f.maxExponent + 1) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction * f.epsilon) * 2 ** (biased - f.exponentBias);
}

/** dst[i] = bits of src[i] rounded to dtype; dst defaults to a new Uint16Array. */
export function encodeHalfArray(dtype: HalfDType, src: ArrayLike<number>, dst = new Uint16Array(src.length)): Uint16Array {
  const f = HALF_FORMATS[dtype];
  for (let i = 0; i < src.length; i++) dst[i] = encodeHalf(f, src[i]!);
  return dst;
}

/** dst[i] = the value of bit pattern src[i]; dst defaults to a new Float32Array (exact). */
export function decodeHalfArray<T extends Float32Array | Float64Array = Float32Array>(dtype: HalfDType, src: Uint16Array, dst?: T): T {
  const f = HALF_FORMATS[dtype];
  const out = dst ?? (new Float32Array(src.length) as T);
  for (let i = 0; i < src.length; i++) out[i] = decodeHalf(f, src[i]!);
  return out;
}
