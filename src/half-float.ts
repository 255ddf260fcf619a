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

/*
 * Fast paths for the array conversions (they run on every 16-bit kernel call). They give the
 * same bits as encodeHalf/decodeHalf — test/core/half-float.test.ts checks every pattern and
 * random float32 inputs against them:
 *   bfloat16 ← float32: the top half of the float32 bits, rounded to nearest even:
 *            (u + 0x7fff + ((u >> 16) & 1)) >> 16 (a carry into the exponent is the correct
 *            rounding up, to ±Inf past the largest finite value); NaN → quiet NaN.
 *   float16  ← float32: integer rounding of the float32 bits (f32BitsToF16).
 *   float32  ← bfloat16: bits << 16;  float32 ← float16: a 65536-entry table.
 * A number that is not a float32 takes the exact scalar encodeHalf (rounding it to float32 first
 * could round twice).
 */
const f32 = new Float32Array(1), i32 = new Int32Array(f32.buffer);

/*
 * The bit routines take the float32's bits as an int32 (an Int32Array view: V8 keeps those in
 * registers, where a Uint32Array's values past 2³⁰ would be boxed) and use | 0 / >>> to stay in
 * 32-bit integer arithmetic.
 */

/** float16 bits of the float32 with bits u (as an int32), rounded to nearest even. */
function f32BitsToF16(u: number): number {
  const sign = (u >>> 16) & 0x8000, a = u & 0x7fffffff;
  if (a >= 0x7f800000) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00); // NaN (quiet) or ±Inf
  if (a >= 0x477ff000) return sign | 0x7c00; // |x| ≥ 65520 (the midpoint past 65504) → ±Inf
  if (a >= 0x38800000) { // normal in float16 (|x| ≥ 2⁻¹⁴): rebias the exponent by 127 − 15, round away 13 fraction bits
    const r = a - 0x38000000;
    return sign | ((r + 0x0fff + ((r >>> 13) & 1)) >>> 13);
  }
  if (a <= 0x33000000) return sign; // |x| ≤ 2⁻²⁵ (half the smallest subnormal; the tie goes to even 0)
  // subnormal: |x| = m·2^(e − 150) = q·2⁻²⁴ with q = m·2^(e − 126), e ∈ [102, 112]: shift m right by 126 − e, to even
  const e = a >>> 23, m = (a & 0x7fffff) | 0x800000, shift = 126 - e;
  const q = m >>> shift, rest = m & ((1 << shift) - 1), half = 1 << (shift - 1);
  return sign | (q + (rest > half || (rest === half && (q & 1)) ? 1 : 0)); // q = 1024 carries into the smallest normal
}

/** bfloat16 bits of the float32 with bits u (as an int32), rounded to nearest even. */
function f32BitsToBf16(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) & 0x8000) | 0x7fc0; // NaN (quiet, sign kept)
  return ((u + 0x7fff + ((u >>> 16) & 1)) | 0) >>> 16; // the sum wraps mod 2³² as the unsigned one would
}

let f16Table: Float32Array | null = null;
/** Every float16 pattern's value (256 KiB, made on first use). */
function float16Values(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) f16Table[b] = decodeHalf(HALF_FORMATS.float16, b);
  }
  return f16Table;
}

/** dst[i] = bits of src[i] rounded to dtype; dst defaults to a new Uint16Array. */
export function encodeHalfArray(dtype: HalfDType, src: ArrayLike<number>, dst: Uint16Array<ArrayBufferLike> = new Uint16Array(src.length)): Uint16Array<ArrayBufferLike> {
  const fast = dtype === 'float16' ? f32BitsToF16 : f32BitsToBf16;
  const n = src.length;
  if (src instanceof Float32Array) {
    const bits = new Int32Array(src.buffer, src.byteOffset, n);
    if (dtype === 'bfloat16') for (let i = 0; i < n; i++) dst[i] = f32BitsToBf16(bits[i]!);
    else for (let i = 0; i < n; i++) dst[i] = f32BitsToF16(bits[i]!);
    return dst;
  }
  const f = HALF_FORMATS[dtype];
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    f32[0] = x;
    dst[i] = f32[0] === x ? fast(i32[0]!) : encodeHalf(f, x); // a float32 (not NaN): the bit path; else exact
  }
  return dst;
}

/** dst[i] = the value of bit pattern src[i]; dst defaults to a new Float32Array (exact). */
export function decodeHalfArray<T extends Float32Array | Float64Array = Float32Array>(dtype: HalfDType, src: Uint16Array, dst?: T): T {
  const out = dst ?? (new Float32Array(src.length) as T);
  const n = src.length;
  if (dtype === 'bfloat16' && out instanceof Float32Array) {
    const bits = new Int32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
    return out;
  }
  if (dtype === 'float16') {
    const table = float16Values();
    for (let i = 0; i < n; i++) out[i] = table[src[i]!]!;
    return out;
  }
  const f = HALF_FORMATS[dtype];
  for (let i = 0; i < n; i++) out[i] = decodeHalf(f, src[i]!);
  return out;
}
