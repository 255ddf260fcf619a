import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { linalg, LorafaError, tensor, type Tensor } from '../../src/index.ts';
import { NotPositiveDefiniteError } from '../../src/linalg/dense.ts';
import { dim, seed } from '../helpers/arbitraries.ts';
import { expectClose } from '../helpers/allclose.ts';
import { randomValues } from '../helpers/check-op.ts';
import { matmul, nd, permute, type Nd } from '../helpers/reference.ts';

/** A = M·Mᵀ + n·I: symmetric positive definite and well conditioned. */
function spd(n: number, s: number): Nd {
  const M = nd([n, n], randomValues(n * n, s));
  const A = matmul(M, permute(M, [1, 0]));
  for (let i = 0; i < n; i++) A.data[i * n + i]! += n;
  return A;
}

const asTensor = (x: Nd, dtype: 'float32' | 'float64' = 'float64'): Tensor => tensor(Float64Array.from(x.data), { shape: x.shape, dtype });
const toNd = (t: Tensor): Nd => nd(t.shape, t.dataSync());

describe('linalg (float64 on the CPU)', () => {
  it('cholesky: L is lower-triangular with a positive diagonal and L·Lᵀ = A', () => {
    fc.assert(fc.property(dim(8), seed, (n, sd) => {
      const A = spd(n, sd);
      const L = toNd(linalg.cholesky(asTensor(A)));
      for (let i = 0; i < n; i++) {
        expect(L.data[i * n + i]).toBeGreaterThan(0);
        for (let j = i + 1; j < n; j++) expect(L.data[i * n + j]).toBe(0);
      }
      expectClose(matmul(L, permute(L, [1, 0])).data, A.data, { atol: 1e-12, rtol: 1e-12 });
    }));
  });

  it('triangularSolve: L·X = B and Lᵀ·X = B', () => {
    fc.assert(fc.property(dim(8), dim(4), seed, (n, k, sd) => {
      const L = toNd(linalg.cholesky(asTensor(spd(n, sd))));
      const B = nd([n, k], randomValues(n * k, sd + 1));
      const X = toNd(linalg.triangularSolve(asTensor(L), asTensor(B)));
      expectClose(matmul(L, X).data, B.data, { atol: 1e-12, rtol: 1e-10 });
      const Xt = toNd(linalg.triangularSolve(asTensor(L), asTensor(B), { transpose: true }));
      expectClose(matmul(permute(L, [1, 0]), Xt).data, B.data, { atol: 1e-12, rtol: 1e-10 });
    }));
  });

  it('solvePosDef: A·X = B; float32 in, float32 out, computed in float64', () => {
    fc.assert(fc.property(dim(8), dim(4), seed, (n, k, sd) => {
      const A = spd(n, sd), B = nd([n, k], randomValues(n * k, sd + 1));
      const X = linalg.solvePosDef(asTensor(A), asTensor(B));
      expect(X.shape).toEqual([n, k]);
      expectClose(matmul(A, toNd(X)).data, B.data, { atol: 1e-11, rtol: 1e-10 });
      const X32 = linalg.solvePosDef(asTensor(A, 'float32'), asTensor(B, 'float32'));
      expect(X32.dtype).toBe('float32');
      // same float32 inputs solved in float64 here, then rounded once
      const A32 = nd(A.shape, A.data.map(Math.fround)), B32 = nd(B.shape, B.data.map(Math.fround));
      const ref = toNd(linalg.solvePosDef(asTensor(A32), asTensor(B32)));
      expect(Array.from(X32.dataSync())).toEqual(ref.data.map(Math.fround));
    }));
  });

  it('a matrix that is not positive definite is an error naming the op and the pivot', () => {
    const A = tensor([[1, 2], [2, 1]], { dtype: 'float64' });
    for (const [op, run] of [['cholesky', () => linalg.cholesky(A)], ['solvePosDef', () => linalg.solvePosDef(A, tensor([[1], [1]], { dtype: 'float64' }))]] as const) {
      let err: unknown;
      try {
        run();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NotPositiveDefiniteError);
      expect(err).toBeInstanceOf(LorafaError);
      expect((err as Error).message).toBe(`${op}: matrix is not positive definite: pivot 1 is -3.000e+0; expected a symmetric positive definite matrix (full column rank for AᵀA)`);
      expect((err as NotPositiveDefiniteError).column).toBe(1);
    }
    expect(() => linalg.cholesky(tensor([[0, 0], [0, 1]], { dtype: 'float64' }))).toThrow(/pivot 0 is 0.000e\+0/);
  });

  it('triangularSolve with a zero or non-finite pivot is an error naming the pivot and its value', () => {
    const b = tensor([[1], [2], [3]], { dtype: 'float64' });
    const L = (d: number) => tensor([[2, 0, 0], [1, d, 0], [4, 5, 1]], { dtype: 'float64' });
    for (const [d, shown] of [[0, '0'], [-0, '0'], [NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']] as const) {
      for (const transpose of [false, true]) {
        let err: unknown;
        try {
          linalg.triangularSolve(L(d), b, { transpose });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(LorafaError);
        expect((err as Error).message).toBe(`triangularSolve: pivot 1 (L[1, 1]) is ${shown}; expected a lower-triangular L with a finite non-zero diagonal`);
      }
    }
    // solvePosDef names itself: an infinite diagonal passes Cholesky's d > 0 but gives L[0, 0] = ∞
    expect(() => linalg.solvePosDef(tensor([[Infinity]], { dtype: 'float64' }), tensor([[1]], { dtype: 'float64' })))
      .toThrow(/^solvePosDef: pivot 0 \(L\[0, 0\]\) is Infinity; expected/);
    // a tiny pivot is not singular: the solve goes through and stays finite
    const x = linalg.triangularSolve(L(1e-300), b).dataSync();
    expect(Array.from(x).every(Number.isFinite)).toBe(true);
  });

  it('shape errors name the op and both shapes', () => {
    const A = tensor([[4, 0], [0, 4]], { dtype: 'float64' });
    expect(() => linalg.cholesky(tensor([[1, 2, 3]]))).toThrow(/^cholesky: a \[1, 3\] \(float32, cpu\) must be a square matrix \[n, n\]/);
    expect(() => linalg.solvePosDef(A, tensor([1, 2], { dtype: 'float64' }))).toThrow(/^solvePosDef: b \[2\] \(float64, cpu\) does not fit a \[2, 2\] \(float64, cpu\); expected b of shape \[2, k\]/);
    expect(() => linalg.triangularSolve(A, tensor([[1], [2], [3]], { dtype: 'float64' }))).toThrow(/^triangularSolve: b \[3, 1\]/);
  });
});
