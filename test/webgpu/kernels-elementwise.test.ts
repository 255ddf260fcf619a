/**
 * WebGPU kernels against the CPU kernels, called directly (below the autograd): elementwise,
 * random streams, strided copies, reductions and matmul. Exactness where the arithmetic is
 * exact (bits, integers, Philox), float32 tolerances elsewhere.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UNARY_GRAD_NEEDS, type BinaryOp, type UnaryOp } from '../../src/backends/backend.ts';
import { broadcastShapes } from '../../src/shape.ts';
import { expectClose } from '../helpers/allclose.ts';
import { broadcastPair } from '../helpers/arbitraries.ts';
import { randomValues, type Domain } from '../helpers/check-op.ts';
import { cpu, runKernel, skipReason, webgpu } from './gpu.ts';

const f32 = (n: number, seed: number, domain?: Domain) => Float32Array.from(randomValues(n, seed, domain));
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const F32 = { atol: 1e-6, rtol: 2e-6 };

/** max |a − e| / (|e| + floor) over elements: a relative error that tolerates values near 0. */
function maxRelErr(a: ArrayLike<number>, e: ArrayLike<number>, floor: number): number {
  let m = 0;
  for (let i = 0; i < e.length; i++) m = Math.max(m, a[i] === e[i] ? 0 : Math.abs(a[i]! - e[i]!) / (Math.abs(e[i]!) + floor));
  return m;
}

const DOMAIN: Record<UnaryOp, Domain> = {
  neg: {}, exp: { min: -20, max: 20 }, log: { min: 1e-3, max: 50 }, sqrt: { min: 0, max: 50 }, abs: { awayFromZero: 1e-3 },
  tanh: { min: -20, max: 20 }, sigmoid: { min: -30, max: 30 }, relu: { awayFromZero: 1e-3 }, gelu: { min: -12, max: 12 },
  geluErf: { min: -12, max: 12 }, silu: { min: -30, max: 30 }, pow: { min: -3, max: 3 },
};

describe.skipIf(!webgpu)(`WebGPU kernels: elementwise, random, layout, reduce, matmul ${skipReason}`, () => {
  const gpu = webgpu!;
  const both = async (...args: Parameters<typeof runKernel> extends [unknown, ...infer R] ? R : never) =>
    [await runKernel(cpu(), ...args), await runKernel(gpu, ...args)] as const;

  it('full writes float32 and int32 values exactly, and cast converts like the CPU', async () => {
    for (const [dtype, value] of [['float32', -0.1], ['float32', -0], ['int32', -7], ['int32', 3.9]] as const) {
      const [[c], [g]] = await both([], (k) => k.full(dtype, 5, value));
      expect(g).toEqual(c);
    }
    const x = Float32Array.from([-2.7, -0.5, 0, 0.5, 2.7, 1e6, -123456.9]);
    const [[ci], [gi]] = await both([x], (k, [s]) => k.cast(s!, 'int32'));
    expect(Array.from(gi!)).toEqual(Array.from(ci!));
    const [[cf], [gf]] = await both([Int32Array.from([-5, 0, 7, 1 << 24])], (k, [s]) => k.cast(s!, 'float32'));
    expect(gf).toEqual(cf);
  });

  it('cast to int32 saturates out-of-range values and maps NaN to 0 (the CPU rule, checked explicitly in WGSL)', async () => {
    const max = 2 ** 31 - 1, min = -(2 ** 31), below = Math.fround(2 ** 31 - 128); // the largest float32 under 2³¹
    const x = Float32Array.from([NaN, -NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 3e9, -3e9, 1e38, -1e38, below, -below, -2.9, 2.9, -0]);
    const [[c], [g]] = await both([x], (k, [s]) => k.cast(s!, 'int32'));
    expect(Array.from(g!)).toEqual([0, 0, max, min, max, min, max, min, max, min, below, -below, -2, 2, 0]);
    expect(g).toEqual(c);
  });

  it('the pow gradient at p = 0 is 0, also at x = 0 (not 0·0⁻¹ = NaN)', async () => {
    const x = Float32Array.from([0, -0, 2, -3]), g = Float32Array.from([1, -2, 3, 4]);
    const [[c0], [d0]] = await both([x, g], (k, [s, gs]) => k.unaryGrad('pow', s!, gs!, 0));
    expect(Array.from(d0!)).toEqual([0, 0, 0, 0]);
    expect(d0).toEqual(c0);
    const [[c1], [d1]] = await both([x, g], (k, [s, gs]) => k.unaryGrad('pow', s!, gs!, 1));
    expect(Array.from(d1!)).toEqual([1, -2, 3, 4]); // p·x⁰ = 1, also at x = 0
    expect(d1).toEqual(c1);
  });

  it('pow and its gradient at x = ±0 follow Math.pow (0, ±∞ by the exponent), where WGSL pow is undefined', async () => {
    const x = Float32Array.from([0, -0, 0, -0]), g = Float32Array.from([1, 1, -1, 2]);
    for (const p of [-1, -2, -0.5, 0.5, 3, 1.5]) {
      const [[cy], [gy]] = await both([x], (k, [s]) => k.unary('pow', s!, p));
      const negZero = (a: ArrayLike<number>) => Array.from(a, (v) => Object.is(v, -0));
      expect(negZero(gy!), `pow(±0, ${p}) signs`).toEqual(negZero(cy!));
      expect(gy, `pow(±0, ${p})`).toEqual(cy);
      const [[cd], [gd]] = await both([x, g], (k, [s, gs]) => k.unaryGrad('pow', s!, gs!, p));
      expect(gd, `pow'(±0, ${p})`).toEqual(cd);
    }
  });

  it('rand is bit-identical to the CPU stream, randn agrees to float32 rounding', async () => {
    for (const [n, seed, offset] of [[1, 0, 0], [1003, 42, 7], [37, 0xffffffff, 0xfffffffe]] as const) {
      const [[cu], [gu]] = await both([], (k) => k.random('uniform', 'float32', n, seed, offset));
      expect(gu).toEqual(cu);
      const [[cn], [gn]] = await both([], (k) => k.random('normal', 'float32', n, seed, offset));
      expectClose(gn!, cn!, { atol: 2e-6, rtol: 1e-5 });
    }
  });

  it('dropout keeps exactly the CPU mask (wrapping block counters included)', async () => {
    for (const [n, p, seed, offset] of [[1001, 0.1, 1, 0], [517, 0.5, 99, 0xfffffff0], [64, 0.9, 7, 3]] as const) {
      const x = f32(n, seed, { awayFromZero: 0.5 });
      const [[c], [g]] = await both([x], (k, [s]) => k.dropout(s!, p, seed, offset));
      expect(Array.from(g!, (v) => v === 0)).toEqual(Array.from(c!, (v) => v === 0));
      expectClose(g!, c!, F32);
    }
  });

  it('unary and unaryGrad match the CPU for every op (erf-based GELU included)', async () => {
    for (const op of Object.keys(DOMAIN) as UnaryOp[]) {
      const x = f32(2000, 11, DOMAIN[op]);
      for (const param of op === 'pow' ? [2, 3, -1, 0.5, 0] : [0]) {
        const xs = op === 'pow' && !Number.isInteger(param) ? x.map(Math.abs) : x;
        const [[cy], [gy]] = await both([xs], (k, [s]) => k.unary(op, s!, param));
        expect(maxRelErr(gy!, cy!, 2e-6), `${op}(param ${param})`).toBeLessThan(op === 'pow' || op === 'exp' ? 1e-5 : 4e-6);
        const saved = UNARY_GRAD_NEEDS[op] === 'output' ? cy! : xs;
        const g = f32(2000, 12);
        const [[cd], [gd]] = await both([saved, g], (k, [s, gs]) => k.unaryGrad(op, UNARY_GRAD_NEEDS[op] === 'none' ? gs! : s!, gs!, param));
        expect(maxRelErr(gd!, cd!, 2e-6), `${op}(param ${param}) grad`).toBeLessThan(2e-5);
      }
    }
  });

  it('binary ops broadcast like the CPU; eq and gt are exact', async () => {
    const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'eq', 'gt'];
    await fc.assert(fc.asyncProperty(broadcastPair(4, 5), fc.constantFrom(...ops), async ([as, bs], op) => {
      const out = broadcastShapes('test', [as, bs]);
      const a = f32(size(as), 1, { min: -2, max: 2 }).map((v) => (op === 'eq' ? Math.round(v) : v));
      const b = f32(size(bs), 2, { awayFromZero: 0.5 }).map((v) => (op === 'eq' ? Math.round(v) : v));
      const [[c], [g]] = await both([a, b], (k, [sa, sb]) => k.binary(op, sa!, as, sb!, bs, out));
      expectClose(g!, c!, { atol: 0, rtol: 0 });
    }), { numRuns: 40 });
    for (const [as, bs] of [[[3, 1], [1, 4]], [[2, 1, 5], [3, 1]], [[1, 4, 1], [3, 1, 2]]]) { // both operands stretched
      const out = broadcastShapes('test', [as!, bs!]);
      const [[c], [g]] = await both([f32(size(as!), 1), f32(size(bs!), 2)], (k, [sa, sb]) => k.binary('sub', sa!, as!, sb!, bs!, out));
      expect(g, `${as} − ${bs}`).toEqual(c);
    }
  });

  it('where picks by int32 and float32 conditions with broadcasting (−0 is false)', async () => {
    const cond = Float32Array.from([0, -0, 1, NaN, -2, 0]);
    const [[c], [g]] = await both([cond, f32(6, 1), f32(3, 2)], (k, [cs, a, b]) => k.where(cs!, [2, 3], a!, [2, 3], b!, [3], [2, 3]));
    expect(g).toEqual(c);
    const [[ci], [gi]] = await both([Int32Array.from([0, 3]), f32(1, 1), f32(4, 2)], (k, [cs, a, b]) => k.where(cs!, [2, 1], a!, [], b!, [2, 2], [2, 2]));
    expect(gi).toEqual(ci);
  });

  it('gatherStrided and scatterStrided move any dtype through permutes, slices and expands', async () => {
    const x = Int32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i * 7 - 50);
    const views = [
      { shape: [5, 4, 3, 2], strides: [1, 5, 20, 60], offset: 0 }, // full permute
      { shape: [2, 2, 4, 5], strides: [60, 20, 5, 1], offset: 20 }, // slice of axis 1
      { shape: [3, 2, 1, 5], strides: [0, 60, 0, 1], offset: 5 }, // expand + slice
    ];
    for (const view of views) {
      const [[c], [g]] = await both([x], (k, [s]) => k.gatherStrided(s!, view));
      expect(g).toEqual(c);
    }
    const dst = f32(120, 3), src = f32(40, 4);
    const view = { shape: [2, 4, 5], strides: [60, 5, 1], offset: 20 };
    const [[c], [g]] = await both([dst, src], (k, [d, s]) => k.scatterStrided(d!, s!, view), (s) => [s[0]!]);
    expect(g).toEqual(c);
  });

  it('reduce sums and maxes over [outer, len, inner] on both paths, max propagating NaN', async () => {
    for (const [outer, len, inner] of [[3, 1, 5], [2, 63, 3], [1, 64, 1], [5, 1000, 2], [1, 4099, 1], [70000, 64, 1], [0, 5, 2], [2, 0, 3]]) {
      const x = f32(outer * len * inner, len, { min: -3, max: 3 });
      if (x.length > 7) x[7] = NaN;
      for (const op of ['sum', 'max'] as const) {
        const [[c], [g]] = await both([x], (k, [s]) => k.reduce(op, s!, outer, len, inner));
        expectClose(g!, c!, op === 'max' ? { atol: 0, rtol: 0 } : { atol: 1e-5 * Math.sqrt(len), rtol: 1e-5 });
      }
    }
  });

  it('matmul is correct across tile edges, transposes and batch strides', async () => {
    const sizes = fc.constantFrom(1, 2, 3, 15, 16, 17, 63, 64, 65, 67);
    await fc.assert(fc.asyncProperty(sizes, sizes, sizes, fc.boolean(), fc.boolean(), fc.constantFrom(1, 3), fc.boolean(),
      async (m, n, k, transA, transB, batch, shareB) => {
        const a = f32(batch * m * k, m + 7 * n), b = f32((shareB ? 1 : batch) * k * n, k);
        const p = { batch, m, n, k, transA, transB, aBatchStride: m * k, bBatchStride: shareB ? 0 : k * n };
        const [[c], [g]] = await both([a, b], (kn, [sa, sb]) => kn.matmul(sa!, sb!, p));
        expectClose(g!, c!, { atol: 2e-5 * Math.sqrt(k), rtol: 1e-5 });
      }), { numRuns: 30 });
    const [[c0], [g0]] = await both([f32(0, 1), f32(0, 2)], (kn, [sa, sb]) =>
      kn.matmul(sa!, sb!, { batch: 1, m: 3, n: 2, k: 0, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }));
    expect(g0).toEqual(c0);
  });

  it('splits 1-D launches above 65535 workgroups over x and y', async () => {
    const n = 65535 * 256 + 300;
    const [g] = await runKernel(gpu, [], (k) => k.full('float32', n, 2.5));
    expect(g!.length).toBe(n);
    expect(g!.every((v) => v === 2.5)).toBe(true);
  });
});
