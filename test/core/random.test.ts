import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { manualSeed, rand, randn } from '../../src/index.ts';
import { philox4x32 } from '../../src/random.ts';
import { seed, shape } from '../helpers/arbitraries.ts';
import { philoxRef, uniformRef } from '../helpers/philox.ts';

/**
 * Random123 tests/kat_vectors (github.com/DEShawResearch/random123), the "philox4x32 10" lines:
 * counter (4 words), key (2 words) → output (4 words).
 */
const KAT: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

function enginePhilox(c: readonly number[], k: readonly number[]): number[] {
  const out = new Uint32Array(4);
  philox4x32(c[0]!, c[1]!, c[2]!, c[3]!, k[0]!, k[1]!, out);
  return Array.from(out);
}

/** The normal stream as random.ts documents it: block offset + i, Box–Muller on lanes 0 and 1. */
function normalRef(n: number, s: number, offset: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const w = philoxRef([(offset + i) >>> 0, 0, 0, 0], [s, 0]);
    const u1 = ((w[0]! >>> 8) + 1) / 2 ** 24, u2 = (w[1]! >>> 8) / 2 ** 24;
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  });
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('Philox-4x32-10', () => {
  it('matches the Random123 known-answer vectors (engine and test reference)', () => {
    for (const [c, k, want] of KAT) {
      expect(enginePhilox(c, k)).toEqual(want);
      expect(philoxRef(c, k)).toEqual(want);
    }
  });

  it('agrees with the BigInt reference on random counters and keys', () => {
    fc.assert(fc.property(fc.array(u32, { minLength: 4, maxLength: 4 }), fc.array(u32, { minLength: 2, maxLength: 2 }), (c, k) => {
      expect(enginePhilox(c, k)).toEqual(philoxRef(c, k));
    }));
  });
});

describe('rand and randn', () => {
  it('rand with a seed is the documented uniform stream; float32 holds it exactly', () => {
    fc.assert(fc.property(shape(0, 3, 6), seed, fc.constantFrom('float32' as const, 'float64' as const), (s, sd, dtype) => {
      const t = rand(s, { seed: sd, dtype });
      expect(t.shape).toEqual(s);
      expect(Array.from(t.dataSync())).toEqual(uniformRef(t.size, sd, 0));
    }));
  });

  it('randn with a seed is the documented Box–Muller stream', () => {
    fc.assert(fc.property(shape(0, 3, 5), seed, (s, sd) => {
      const t = randn(s, { seed: sd, dtype: 'float64' });
      const want = normalRef(t.size, sd, 0);
      Array.from(t.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 12));
      expect(Array.from(randn(s, { seed: sd }).dataSync())).toEqual(want.map(Math.fround));
    }));
  });

  it('same seed, same tensor; another seed, another tensor', () => {
    fc.assert(fc.property(seed, (sd) => {
      expect(randn([4, 5], { seed: sd }).dataSync()).toEqual(randn([4, 5], { seed: sd }).dataSync());
      expect(rand([4, 5], { seed: sd }).dataSync()).not.toEqual(rand([4, 5], { seed: (sd + 1) >>> 0 }).dataSync());
    }));
  });

  it('the global generator: manualSeed reproduces, and each call continues past the blocks the last one used', () => {
    manualSeed(99);
    const a = rand([5]), b = rand([3]), c = randn([2]), d = rand([1]);
    expect(Array.from(a.dataSync())).toEqual(uniformRef(5, 99, 0));
    expect(Array.from(b.dataSync())).toEqual(uniformRef(3, 99, 2)); // 5 uniforms use blocks 0 and 1
    expect(Array.from(c.dataSync())).toEqual(normalRef(2, 99, 3).map(Math.fround)); // one block per normal
    expect(Array.from(d.dataSync())).toEqual(uniformRef(1, 99, 5));
    manualSeed(99);
    expect(rand([5]).dataSync()).toEqual(a.dataSync());
  });

  it('uniform: values in [0, 1), mean 1/2 and variance 1/12 within 5 standard errors', () => {
    const n = 200_000;
    const x = rand([n], { seed: 7, dtype: 'float64' }).dataSync();
    let sum = 0, sq = 0, lo = Infinity, hi = -Infinity;
    for (const v of x) {
      sum += v;
      sq += v * v;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const mean = sum / n, variance = sq / n - mean * mean;
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(5 * Math.sqrt(1 / 180 / n)); // Var((u − ½)²) = 1/80 − 1/144 = 1/180
  });

  it('normal: mean 0, variance 1, third moment 0 within 5 standard errors', () => {
    const n = 200_000;
    const x = randn([n], { seed: 11, dtype: 'float64' }).dataSync();
    let m1 = 0, m2 = 0, m3 = 0;
    for (const v of x) {
      m1 += v;
      m2 += v * v;
      m3 += v * v * v;
    }
    expect(Math.abs(m1 / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(m2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(m3 / n)).toBeLessThan(5 * Math.sqrt(15 / n));
    expect(Array.from(x).every(Number.isFinite)).toBe(true);
  });
});
