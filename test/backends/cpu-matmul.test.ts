import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MatmulParams } from '../../src/backends/backend.ts';
import { gemmRows, KC, MC, MR, NC, NR, type Gemm } from '../../src/backends/cpu/gemm-packed.ts';
import { matmul } from '../../src/backends/cpu/kernels/matmul.ts';
import { ops, tensor } from '../../src/index.ts';
import { filled } from '../helpers/filled.ts';

type FloatArray = Float32Array | Float64Array;
type Dtype = 'float32' | 'float64';

/**
 * The naive triple loop in float64: ref[b, i, j] = Σ_l op(A_b)[i, l]·op(B_b)[l, j], plus
 * bound[b, i, j] = Σ_l |op(A_b)[i, l]·op(B_b)[l, j]|, the scale every rounding error is relative to.
 */
function reference(a: FloatArray, b: FloatArray, p: MatmulParams): { ref: Float64Array; bound: Float64Array } {
  const { batch, m, n, k, transA, transB } = p;
  const ref = new Float64Array(batch * m * n), bound = new Float64Array(batch * m * n);
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * p.aBatchStride, bo = bi * p.bBatchStride;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, t = 0;
        for (let l = 0; l < k; l++) {
          const x = a[ao + (transA ? l * m + i : i * k + l)]! * b[bo + (transB ? j * k + l : l * n + j)]!;
          s += x;
          t += Math.abs(x);
        }
        ref[(bi * m + i) * n + j] = s;
        bound[(bi * m + i) * n + j] = t;
      }
    }
  }
  return { ref, bound };
}

/** float32: one rounding of C per KC slab (2× margin); float64: summation-order differences. */
function tolerance(dtype: Dtype, k: number): number {
  return dtype === 'float32' ? 2 ** -23 * (1 + Math.ceil(k / KC)) : 2 ** -50 * (k + 1);
}

interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  dtype: Dtype;
  batch?: number;
  /** Which operand every batch shares (batch stride 0). */
  shared?: 'a' | 'b' | 'none';
}

/** The packed kernel alone (whatever the size), in two row ranges [0, m0) and [m0, m), as workers would split M. */
function packedOnly(a: FloatArray, b: FloatArray, p: MatmulParams): FloatArray {
  const { batch, m, n, k } = p;
  const c = a instanceof Float64Array ? new Float64Array(batch * m * n) : new Float32Array(batch * m * n);
  const m0 = Math.floor(m / 3);
  for (let bi = 0; bi < batch; bi++) {
    const g: Gemm = { a, aOff: bi * p.aBatchStride, transA: p.transA, b, bOff: bi * p.bBatchStride, transB: p.transB, c, cOff: bi * m * n, m, n, k };
    gemmRows(g, 0, m0);
    gemmRows(g, m0, m);
  }
  return c;
}

function expectNear(label: string, out: FloatArray, ref: Float64Array, bound: Float64Array, tol: number): void {
  expect(out.length).toBe(ref.length);
  for (let i = 0; i < out.length; i++) {
    const err = Math.abs(out[i]! - ref[i]!);
    if (!(err <= tol * bound[i]!)) expect.fail(`${label}: element ${i} = ${out[i]}, expected ${ref[i]} (|err| ${err} > ${tol}·${bound[i]})`);
  }
}

/** matmul (which picks a path) and the packed kernel forced, both against the naive loop. */
function check(c: Case, seed = 1): void {
  const { m, n, k, transA, transB, dtype, batch = 1, shared = 'none' } = c;
  const a = filled(dtype, (shared === 'a' ? 1 : batch) * m * k, seed);
  const b = filled(dtype, (shared === 'b' ? 1 : batch) * k * n, seed + 7);
  const p: MatmulParams = { batch, m, n, k, transA, transB, aBatchStride: shared === 'a' ? 0 : m * k, bBatchStride: shared === 'b' ? 0 : k * n };
  const out = matmul(a, b, p);
  expect(out).toBeInstanceOf(dtype === 'float64' ? Float64Array : Float32Array);
  const { ref, bound } = reference(a, b, p);
  const tol = tolerance(dtype, k);
  expectNear(`matmul ${JSON.stringify(c)}`, out, ref, bound, tol);
  expectNear(`packed ${JSON.stringify(c)}`, packedOnly(a, b, p), ref, bound, tol);
}

const FLAGS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
const DTYPES: Dtype[] = ['float32', 'float64'];

describe('cpu matmul kernel vs the naive triple loop', () => {
  // sizes across the micro-tile (MR × NR), the A block (MC), the slab depth (KC) and the slab width (NC)
  const depths = [1, 2, 3, 4, 5, 7, KC - 1, KC, KC + 1, 2 * KC + 1];
  const rows = [1, 2, MR - 1, MR, MR + 1, 7, MC - 1, MC, MC + 1, 2 * MC + 3];
  const cols = [1, 2, NR, NR + 1, 5, 7, 13, 64];

  for (const [transA, transB] of FLAGS) {
    for (const dtype of DTYPES) {
      const flags = `transA=${transA} transB=${transB} ${dtype}`;
      it(`every depth k in ${depths.join(', ')} (${flags})`, () => {
        for (const k of depths) check({ m: 9, n: 7, k, transA, transB, dtype });
      });
      it(`every row count m in ${rows.join(', ')} (${flags})`, () => {
        for (const m of rows) check({ m, n: 5, k: 11, transA, transB, dtype });
      });
      it(`every column count n in ${cols.join(', ')} and across the NC slab (${flags})`, () => {
        for (const n of cols) check({ m: 6, n, k: 9, transA, transB, dtype });
        for (const n of [NC - 1, NC, NC + 1]) check({ m: 5, n, k: 3, transA, transB, dtype });
      });
      it(`primes across every edge at once (${flags})`, () => {
        check({ m: 67, n: 31, k: 263, transA, transB, dtype });
      });
    }
  }

  it('batches with their own operands, a shared A and a shared B (stride 0)', () => {
    for (const [transA, transB] of FLAGS) {
      for (const shared of ['none', 'a', 'b'] as const) {
        check({ m: 5, n: 4, k: 6, transA, transB, dtype: 'float64', batch: 3, shared });
        check({ m: 13, n: 10, k: 40, transA, transB, dtype: 'float32', batch: 2, shared });
        check({ m: 1, n: 6, k: 9, transA, transB, dtype: 'float64', batch: 3, shared });
        check({ m: 4, n: 1, k: 9, transA, transB, dtype: 'float64', batch: 3, shared });
      }
    }
  });

  it('handles empty products (k = 0 gives zeros, m = 0 or n = 0 gives nothing)', () => {
    const p = (m: number, n: number, k: number): MatmulParams => ({ batch: 2, m, n, k, transA: false, transB: false, aBatchStride: m * k, bBatchStride: k * n });
    expect(Array.from(matmul(new Float32Array(0), new Float32Array(0), p(3, 4, 0)))).toEqual(new Array(24).fill(0));
    expect(matmul(new Float64Array(0), new Float64Array(10), p(0, 5, 1)).length).toBe(0);
    expect(matmul(new Float64Array(12), new Float64Array(0), p(3, 0, 2)).length).toBe(0);
  });

  it('accumulates in doubles: 1 + (k − 1)·2⁻²⁵ survives in float32 on both paths', () => {
    // float32 running sums would stay at 1: each 2⁻²⁵ is below half an ulp of 1
    const k = 200;
    for (const m of [1, MC]) {
      const a = new Float32Array(m * k).fill(2 ** -25);
      for (let i = 0; i < m; i++) a[i * k] = 1;
      const out = matmul(a, new Float32Array(k * NR).fill(1), { batch: 1, m, n: NR, k, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
      expect(Array.from(out)).toEqual(new Array(m * NR).fill(Math.fround(1 + (k - 1) * 2 ** -25)));
    }
  });

  it('property: random sizes, flags, dtype and batch sharing agree with the naive loop', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 70 }),
          n: fc.integer({ min: 1, max: 40 }),
          k: fc.integer({ min: 1, max: 300 }),
          transA: fc.boolean(),
          transB: fc.boolean(),
          dtype: fc.constantFrom<Dtype>('float32', 'float64'),
          batch: fc.integer({ min: 1, max: 3 }),
          shared: fc.constantFrom<'a' | 'b' | 'none'>('a', 'b', 'none'),
        }),
        fc.integer({ min: 0, max: 1000 }),
        (c, seed) => check(c, seed),
      ),
    );
  });
});

describe('ops.matmul with transpose flags (through the CPU backend)', () => {
  it('matches the naive loop for every flag combination, batched with a broadcast operand', () => {
    for (const [transA, transB] of FLAGS) {
      for (const dtype of DTYPES) {
        const [m, n, k] = [7, 5, 66];
        const av = filled(dtype, 2 * m * k, 11), bv = filled(dtype, k * n, 12);
        const a = tensor(av, { shape: transA ? [2, k, m] : [2, m, k] });
        const b = tensor(bv, { shape: transB ? [n, k] : [k, n] });
        const y = ops.matmul(a, b, { transA, transB });
        expect(y.shape).toEqual([2, m, n]);
        expect(y.dtype).toBe(dtype);
        const p: MatmulParams = { batch: 2, m, n, k, transA, transB, aBatchStride: m * k, bBatchStride: 0 };
        const { ref, bound } = reference(av, bv, p);
        const got = y.dataSync();
        for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(tolerance(dtype, k) * bound[i]!);
      }
    }
  });

  it('computes Xᵀ·dY and dY·Wᵀ in the matmul backward without changing the result', () => {
    const x = tensor(filled('float64', 6 * 4, 5), { shape: [6, 4], requiresGrad: true });
    const w = tensor(filled('float64', 4 * 3, 6), { shape: [4, 3], requiresGrad: true });
    ops.matmul(x, w).sum().backward();
    // d(Σ x·w)/dw[l, j] = Σ_i x[i, l]; d/dx[i, l] = Σ_j w[l, j]
    const xs = x.toArraySync() as number[][], ws = w.toArraySync() as number[][];
    const gw = w.grad!.toArraySync() as number[][], gx = x.grad!.toArraySync() as number[][];
    for (let l = 0; l < 4; l++) {
      const colSum = xs.reduce((s, row) => s + row[l]!, 0), rowSum = ws[l]!.reduce((s, v) => s + v, 0);
      for (let j = 0; j < 3; j++) expect(gw[l]![j]).toBeCloseTo(colSum, 12);
      for (let i = 0; i < 6; i++) expect(gx[i]![l]).toBeCloseTo(rowSum, 12);
    }
  });
});
