/**
 * The float16/bfloat16 conversions (src/half-float.ts): exhaustive round trips, rounding to the
 * nearest value with ties to the even fraction (midpoints constructed exactly in float64),
 * monotonicity, the special values, the overflow thresholds, no double rounding through float32,
 * and the array fast paths giving the scalar routine's bits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHalf, decodeHalfArray, encodeHalf, encodeHalfArray, HALF_FORMATS, type HalfDType } from '../../src/half-float.ts';

const FORMATS: HalfDType[] = ['float16', 'bfloat16'];
const ALL_BITS = Uint16Array.from({ length: 65536 }, (_, i) => i);
const isNaNBits = (dtype: HalfDType, b: number) => Number.isNaN(decodeHalf(HALF_FORMATS[dtype], b));
/** Largest positive finite pattern: the exponent field one below all-ones, the fraction all ones. */
const maxFiniteBits = (dtype: HalfDType) => (dtype === 'float16' ? 0x7bff : 0x7f7f);

/** The bfloat16 rounding of a float32's bits as PyTorch/TensorFlow write it (NaN kept quiet). */
function bf16BitTrick(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) & 0x8000) | 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
const float32OfBits = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0]!;

describe.each(FORMATS)('%s conversions', (dtype) => {
  const f = HALF_FORMATS[dtype];
  const enc = (x: number) => encodeHalf(f, x);
  const dec = (b: number) => decodeHalf(f, b);
  /** A positive finite pattern b below the largest finite one (so b + 1 is finite too). */
  const belowMax = fc.integer({ min: 0, max: maxFiniteBits(dtype) - 1 });

  it('every pattern round-trips (scalar and array paths, exhaustive)', () => {
    const values = decodeHalfArray(dtype, ALL_BITS);
    const wide = decodeHalfArray(dtype, ALL_BITS, new Float64Array(65536));
    const back = encodeHalfArray(dtype, values), backWide = encodeHalfArray(dtype, wide), backNumbers = encodeHalfArray(dtype, Array.from(wide));
    for (let b = 0; b < 65536; b++) {
      const v = dec(b);
      if (Number.isNaN(v)) {
        for (const got of [values[b]!, wide[b]!]) expect(Number.isNaN(got)).toBe(true);
        for (const bits of [enc(v), back[b]!, backWide[b]!, backNumbers[b]!]) expect(isNaNBits(dtype, bits)).toBe(true);
        continue;
      }
      if (!Object.is(values[b], v) || !Object.is(wide[b], v)) expect.fail(`pattern ${b.toString(16)} decodes to ${values[b]} / ${wide[b]}, expected ${v}`);
      if (enc(v) !== b || back[b] !== b || backWide[b] !== b || backNumbers[b] !== b) {
        expect.fail(`pattern ${b.toString(16)} (${v}) encodes back to ${enc(v).toString(16)} / ${back[b]!.toString(16)} / ${backWide[b]!.toString(16)} / ${backNumbers[b]!.toString(16)}`);
      }
    }
  });

  it('a midpoint rounds to the even neighbour; just above or below it, to the nearer one', () => {
    fc.assert(fc.property(belowMax, fc.boolean(), (b, negative) => {
      const lo = dec(b), hi = dec(b + 1), mid = (lo + hi) / 2; // exact: both have ≤ 24 significant bits
      const even = b % 2 === 0 ? b : b + 1, sign = negative ? 0x8000 : 0, s = negative ? -1 : 1;
      expect(enc(s * mid)).toBe(sign | even);
      expect(encodeHalfArray(dtype, Float64Array.of(s * mid))[0]).toBe(sign | even);
      const step = (hi - lo) * 2 ** -30; // far below a float64 ulp of the gap, far above one of mid
      expect(enc(s * (mid + step))).toBe(sign | (b + 1));
      expect(enc(s * (mid - step))).toBe(sign | b);
    }));
  });

  it('rounds to the nearest value: no neighbour is closer (random doubles across the range)', () => {
    const range = fc.double({ min: -f.maxFinite, max: f.maxFinite, noNaN: true });
    fc.assert(fc.property(range, (x) => {
      const b = enc(x), v = dec(b), err = Math.abs(v - x);
      for (const n of [(b & 0x7fff) + 1, (b & 0x7fff) - 1]) {
        if (n < 0 || n > maxFiniteBits(dtype)) continue;
        expect(err).toBeLessThanOrEqual(Math.abs(dec((b & 0x8000) | n) - x));
      }
      expect(err).toBeLessThanOrEqual(Math.max(Math.abs(x) * f.epsilon / 2, f.minSubnormal / 2));
    }), { numRuns: 2000 });
  });

  it('encoding is monotone', () => {
    const any = fc.double({ noNaN: true });
    fc.assert(fc.property(any, any, (x, y) => {
      const [a, b] = x <= y ? [x, y] : [y, x];
      expect(dec(enc(a))).toBeLessThanOrEqual(dec(enc(b)));
    }), { numRuns: 2000 });
  });

  it('NaN, ±Inf, ±0, subnormals and the overflow threshold', () => {
    const inf = (f.maxExponent + 1) << f.fractionBits;
    expect(isNaNBits(dtype, enc(NaN))).toBe(true);
    expect(enc(NaN) & (1 << (f.fractionBits - 1))).not.toBe(0); // quiet
    expect([enc(Infinity), enc(-Infinity)]).toEqual([inf, 0x8000 | inf]);
    expect([enc(0), enc(-0)]).toEqual([0, 0x8000]);
    expect(Object.is(dec(0x8000), -0)).toBe(true);
    const s = f.minSubnormal;
    expect([enc(s), enc(s / 2), enc(s / 2 * (1 + 2 ** -40)), enc(1.5 * s), enc(2.5 * s), enc(-s / 4)]).toEqual([1, 0, 1, 2, 2, 0x8000]);
    expect(dec(1)).toBe(s);
    // the largest subnormal rounds up into the smallest normal past its midpoint
    expect(enc(f.minNormal - s / 2)).toBe(1 << f.fractionBits);
    expect(enc(f.minNormal - s / 2 - s * 2 ** -20)).toBe((1 << f.fractionBits) - 1);
    // overflow: the midpoint between maxFinite and 2^(emax+1) (the next power) goes to ±Inf (even), anything below to maxFinite
    const overflow = f.maxFinite + f.epsilon * 2 ** (f.maxExponent - f.exponentBias) / 2;
    expect([enc(overflow), enc(-overflow), enc(overflow * (1 - 2 ** -40)), enc(f.maxFinite)]).toEqual([inf, 0x8000 | inf, maxFiniteBits(dtype), maxFiniteBits(dtype)]);
    expect(dec(maxFiniteBits(dtype))).toBe(f.maxFinite);
  });

  it('no double rounding: a value just above a midpoint that float32 would round onto it goes up', () => {
    fc.assert(fc.property(belowMax.filter((b) => b % 2 === 0 && b > 0), (b) => {
      const mid = (dec(b) + dec(b + 1)) / 2; // a float32 (at most 9 significant bits more than the format)
      const x = mid * (1 + 2 ** -40); // above the midpoint, within half a float32 ulp of it
      expect(Math.fround(x)).toBe(mid);
      expect(enc(x)).toBe(b + 1); // rounding through float32 would hit the tie and go to even b
      expect(encodeHalfArray(dtype, [x])[0]).toBe(b + 1);
      expect(encodeHalfArray(dtype, Float64Array.of(x))[0]).toBe(b + 1);
      expect(encodeHalfArray(dtype, Float32Array.of(x))[0]).toBe(b); // a Float32Array holds the midpoint itself
    }));
  });

  it('the Float32Array fast path gives the exact routine\'s bits for random float32 patterns', () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 64 }), (us) => {
      const xs = new Float32Array(Uint32Array.from(us).buffer);
      const fast = encodeHalfArray(dtype, xs);
      xs.forEach((x, i) => {
        if (Number.isNaN(x)) expect(isNaNBits(dtype, fast[i]!)).toBe(true);
        else expect(fast[i]).toBe(enc(x));
      });
    }), { numRuns: 500 });
  });
});

describe('bfloat16 of a float32', () => {
  it('equals the float32 bit trick (u + 0x7fff + ((u >> 16) & 1)) >> 16, scalar and array paths', () => {
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (u) => {
      const x = float32OfBits(u), want = bf16BitTrick(u);
      expect(encodeHalfArray('bfloat16', Float32Array.of(x))[0]).toBe(want);
      if (Number.isNaN(x)) expect(isNaNBits('bfloat16', encodeHalf(HALF_FORMATS.bfloat16, x))).toBe(true);
      else expect(encodeHalf(HALF_FORMATS.bfloat16, x)).toBe(want);
    }), { numRuns: 5000 });
  });
});

describe('float16 thresholds', () => {
  it('65520 → Inf, 65519.99 → 65504, the subnormal boundary', () => {
    const f = HALF_FORMATS.float16;
    expect([encodeHalf(f, 65520), encodeHalf(f, -65520), encodeHalf(f, 65519.99), encodeHalf(f, 65504)]).toEqual([0x7c00, 0xfc00, 0x7bff, 0x7bff]);
    expect(encodeHalfArray('float16', Float32Array.of(65520, 65519.99, 2 ** -24, 2 ** -25, 3 * 2 ** -26))).toEqual(Uint16Array.of(0x7c00, 0x7bff, 1, 0, 1));
    expect([f.maxFinite, f.minNormal, f.minSubnormal, f.epsilon]).toEqual([65504, 2 ** -14, 2 ** -24, 2 ** -10]);
    expect([HALF_FORMATS.bfloat16.maxFinite, HALF_FORMATS.bfloat16.minSubnormal]).toEqual([(2 - 2 ** -7) * 2 ** 127, 2 ** -133]);
  });
});
