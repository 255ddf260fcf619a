/**
 * float16 and bfloat16 storage on WebGPU (two elements per u32 word) and cast.wgsl's conversions,
 * bit for bit against the CPU's cast (src/half-float.ts): every one of the 65536 patterns of each
 * format to every other dtype, and float32 and int32 inputs at every rounding tie, next to every
 * tie, at the overflow thresholds, across the subnormals, and at random.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.ts';
import type { DType, TypedArray } from '../../src/dtype.ts';
import { decodeHalf, HALF_FORMATS, type HalfDType } from '../../src/half-float.ts';
import { zeros } from '../../src/index.ts';
import { cpu, skipReason, webgpu } from './gpu.ts';

const HALVES: readonly HalfDType[] = ['float16', 'bfloat16'];
const DTYPES: readonly DType[] = ['float32', 'int32', 'float16', 'bfloat16'];

/** A deterministic stream of u32s (xorshift32). */
function u32s(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = s;
  }
  return out;
}

/** Every 16-bit pattern. */
const ALL_PATTERNS = Uint16Array.from({ length: 65536 }, (_, i) => i);

/** The bits of an array, as u32s (Float32Array compares NaNs by value otherwise). */
function bits(a: TypedArray): Uint32Array | Uint16Array {
  return a instanceof Uint16Array ? a : new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/**
 * float32 inputs around every rounding boundary of `half`: for each positive finite pattern h, the
 * float32 midpoint between h and h + 1 (exact in float32: the tie) and its float32 neighbours,
 * both signs; plus the overflow threshold's neighbourhood and random float32 bit patterns.
 */
function float32Inputs(half: HalfDType): Float32Array {
  const f = HALF_FORMATS[half];
  const out: number[] = [];
  const maxPattern = (f.maxExponent + 1) << f.fractionBits; // +∞'s pattern
  const neighbours = new Float32Array(1), w = new Uint32Array(neighbours.buffer);
  for (let h = 0; h < maxPattern; h++) {
    const tie = (decodeHalf(f, h) + decodeHalf(f, h + 1)) / 2; // the last one: halfway to 2^(emax+1), the overflow threshold
    neighbours[0] = tie;
    const t = w[0]!;
    for (const b of [t - 1, t, t + 1]) {
      w[0] = b;
      out.push(neighbours[0], -neighbours[0]);
    }
  }
  const random = new Float32Array(u32s(200_000, 7 + f.fractionBits).buffer);
  return Float32Array.from([...out, ...random, 0, -0, Infinity, -Infinity, NaN, 3.4028234663852886e38, -1e-45, 1e-45, f.maxFinite, f.minSubnormal / 2, f.minNormal]);
}

/** int32 inputs: every tie of `half` up to 2³¹ (2^k + 2^(k − fractionBits − 1)·odd, and its neighbours), the extremes, and random ones. */
function int32Inputs(half: HalfDType): Int32Array {
  const f = HALF_FORMATS[half];
  const out: number[] = [0, 1, -1, 2147483647, -2147483648, 65504, 65519, 65520, 65521, 65535, 65536, -65520, -65519];
  for (let k = f.fractionBits + 1; k < 31; k++) {
    const step = 2 ** (k - f.fractionBits); // spacing of the format in [2^k, 2^(k+1))
    for (let j = 0; j < 64; j++) {
      const tie = 2 ** k + step * j + step / 2;
      for (const v of [tie - 1, tie, tie + 1]) if (v < 2 ** 31) out.push(v, -v);
    }
  }
  return Int32Array.from([...out, ...new Int32Array(u32s(100_000, 11 + f.fractionBits).buffer), ...new Int32Array(u32s(20_000, 5).map((u) => u >>> 14))]);
}

describe.skipIf(!webgpu)(`WebGPU float16 and bfloat16: storage and cast ${skipReason}`, () => {
  const gpu = webgpu!;

  /** Uploads `data` (of dtype `from`), casts to `to` on backend, reads the result back; frees both. */
  async function castOn(backend: Backend, data: TypedArray, from: DType, to: DType): Promise<TypedArray> {
    const s = backend.upload(data, from);
    const out = backend.kernels.cast(s, to);
    const result = await backend.read(out);
    s.release();
    out.release();
    return result;
  }

  async function expectSameCast(data: TypedArray, from: DType, to: DType): Promise<void> {
    const [c, g] = [await castOn(cpu(), data, from, to), await castOn(gpu, data, from, to)];
    expect(g.constructor).toBe(c.constructor);
    const cb = bits(c), gb = bits(g);
    const mismatches: string[] = [];
    for (let i = 0; i < cb.length && mismatches.length < 5; i++) {
      if (cb[i] !== gb[i]) mismatches.push(`input ${bits(data)[i]!.toString(16)}: cpu ${cb[i]!.toString(16)}, webgpu ${gb[i]!.toString(16)}`);
    }
    expect(mismatches, `${from} → ${to}`).toEqual([]);
    expect(gb.length).toBe(cb.length);
  }

  it('stores 16-bit tensors at 2 bytes per element, two to a word, and reads back the bits (odd sizes too)', async () => {
    const before = gpu.memory();
    for (const half of HALVES) {
      for (const n of [1, 2, 3, 7, 1001]) {
        const data = Uint16Array.from({ length: n }, (_, i) => (i * 40503 + 17) & 0xffff);
        const s = gpu.upload(data, half);
        expect([s.dtype, s.size, s.bytes]).toEqual([half, n, 2 * n]);
        expect(gpu.memory().liveBytes - before.liveBytes).toBe(2 * n);
        expect(await gpu.read(s)).toEqual(data);
        s.release();
      }
    }
    expect(gpu.memory()).toMatchObject({ liveBytes: before.liveBytes, liveBuffers: before.liveBuffers });
    expect(gpu.supportsDtype('float16') && gpu.supportsDtype('bfloat16')).toBe(true);
  });

  it('an upload of a Uint16Array without its 16-bit dtype is an error naming upload; float64 is refused naming the four dtypes webgpu holds', () => {
    expect(() => gpu.upload(new Uint16Array(2))).toThrow(/upload: a Uint16Array holds float16 or bfloat16 bit patterns; pass dtype/);
    expect(() => zeros([2], { device: 'webgpu', dtype: 'float64' })).toThrow(/zeros: dtype float64 is not supported on webgpu; expected float32, int32, float16 or bfloat16 \(float64 lives on the CPU\)/);
    expect(() => gpu.kernels.full('float64', 2, 0)).toThrow(/full: dtype float64 is not supported on webgpu; expected float32, int32, float16 or bfloat16/);
  });

  for (const half of HALVES) {
    it(`casts all 65536 ${half} patterns to every dtype exactly as the CPU`, async () => {
      for (const to of DTYPES) await expectSameCast(ALL_PATTERNS, half, to);
      // odd sizes: the padding half is never read as an element, and written as 0
      await expectSameCast(ALL_PATTERNS.subarray(0, 65535), half, half === 'float16' ? 'bfloat16' : 'float16');
    });

    it(`rounds float32 to ${half} as the CPU: every tie and its neighbours, the overflow threshold, subnormals, random bits`, async () => {
      const x = float32Inputs(half);
      expect(x.length).toBeGreaterThan(300_000);
      await expectSameCast(x, 'float32', half);
    });

    it(`rounds int32 to ${half} once from the integer, as the CPU (ties up to 2³¹, ±2³¹ − 1, −2³¹)`, async () => {
      await expectSameCast(int32Inputs(half), 'int32', half);
    });

    it(`full writes the ${half} rounding of the value into every element, odd sizes too`, async () => {
      for (const value of [0.1, -0, 65519, 65520, -1e-8, NaN, 3]) {
        for (const size of [1, 4, 5]) {
          const [c, g] = await Promise.all([cpu(), gpu].map(async (b) => {
            const s = b.kernels.full(half, size, value);
            const r = await b.read(s);
            s.release();
            return r;
          }));
          expect(g).toEqual(c);
        }
      }
    });
  }

  it('float32 and int32 casts are unchanged: float32 → float32 keeps NaN payloads, int32 ↔ float32 as before', async () => {
    const x = new Float32Array(u32s(10_000, 3).buffer);
    for (const to of ['float32', 'int32'] as const) await expectSameCast(x, 'float32', to);
    await expectSameCast(new Int32Array(u32s(10_000, 4).buffer), 'int32', 'float32');
  });
});
