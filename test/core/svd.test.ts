/**
 * The float64 SVD (src/linalg/svd.ts) as properties: orthonormal U and V, reconstruction
 * U·diag(S)·Vᵀ = M, S descending and ≥ 0 — on random shapes tall, wide and square (size 1
 * included), and on rank-deficient matrices, where U must still be orthonormal.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { linalg, tensor } from '../../src/index.ts';
import { svdF64 } from '../../src/linalg/svd.ts';
import { dim, seed } from '../helpers/arbitraries.ts';
import { expectClose } from '../helpers/allclose.ts';
import { randomValues } from '../helpers/check-op.ts';
import { expectError } from '../helpers/errors.ts';
import { matmul, nd, permute, type Nd } from '../helpers/reference.ts';

const EPS = 2 ** -52;

/** ‖QᵀQ − I‖_max for Q [len, k]. */
function orthogonalityError(Q: Nd): number {
  const k = Q.shape[1]!;
  const G = matmul(permute(Q, [1, 0]), Q);
  return Math.max(...G.data.map((v, i) => Math.abs(v - (Math.floor(i / k) === i % k ? 1 : 0))));
}

function checkSvd(M: Nd): void {
  const [m, n] = M.shape as [number, number];
  const { U, S, V, k } = svdF64(M.data, m, n);
  expect(k).toBe(Math.min(m, n));
  const u = nd([m, k], U), v = nd([n, k], V);
  const tol = 64 * EPS * Math.max(m, n);
  expect(orthogonalityError(u), 'UᵀU = I').toBeLessThanOrEqual(tol);
  expect(orthogonalityError(v), 'VᵀV = I').toBeLessThanOrEqual(tol);
  for (let i = 0; i < k; i++) {
    expect(S[i]).toBeGreaterThanOrEqual(0);
    if (i > 0) expect(S[i]).toBeLessThanOrEqual(S[i - 1]!);
  }
  const US = nd([m, k], U.map((x, i) => x * S[i % k]!));
  const scale = Math.max(S[0] ?? 0, Number.MIN_VALUE);
  expectClose(matmul(US, permute(v, [1, 0])).data, M.data, { atol: tol * scale, rtol: 0 });
}

describe('svd (one-sided Jacobi, float64)', () => {
  it('random matrices: U, V orthonormal, U·diag(S)·Vᵀ = M, S descending and ≥ 0', () => {
    fc.assert(fc.property(dim(12), dim(12), seed, (m, n, s) => checkSvd(nd([m, n], randomValues(m * n, s)))));
  });

  it('rank-deficient matrices (repeated and zero columns, the zero matrix): U is still orthonormal', () => {
    fc.assert(fc.property(dim(9), dim(9), dim(4), seed, (m, n, rank, s) => {
      // M = P·Q with P [m, ρ], Q [ρ, n]: rank ≤ ρ
      const rho = Math.min(rank, m, n);
      const P = nd([m, rho], randomValues(m * rho, s)), Q = nd([rho, n], randomValues(rho * n, s + 1));
      checkSvd(matmul(P, Q));
      checkSvd(nd([m, n], new Array(m * n).fill(0)));
    }));
  });

  it('singular values are those of a known matrix, with relative accuracy across scales', () => {
    // M = U₀·diag(3, 1e-3, 1e-9)·V₀ᵀ with U₀, V₀ from a rotation: the singular values come back to relative ε
    const c = Math.cos(0.3), s = Math.sin(0.3);
    const U0 = nd([3, 3], [c, -s, 0, s, c, 0, 0, 0, 1]), V0 = nd([3, 3], [1, 0, 0, 0, c, -s, 0, s, c]);
    const D = nd([3, 3], [3, 0, 0, 0, 1e-3, 0, 0, 0, 1e-9]);
    const M = matmul(matmul(U0, D), permute(V0, [1, 0]));
    const { S } = svdF64(M.data, 3, 3);
    expectClose(S, [3, 1e-3, 1e-9], { atol: 0, rtol: 1e-6 });
    expectClose(S.slice(0, 2), [3, 1e-3], { atol: 0, rtol: 1e-12 });
  });

  it('linalg.svd on tensors: shapes, dtype and device of the input', () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32' });
    const { U, S, V } = linalg.svd(a);
    expect([U.shape, S.shape, V.shape]).toEqual([[2, 2], [2], [3, 2]]);
    expect([U.dtype, S.dtype, V.dtype]).toEqual(['float32', 'float32', 'float32']);
    expectClose(S.dataSync(), [9.508032, 0.7728696], { atol: 0, rtol: 1e-6 });
  });

  it('bad input: not a matrix, or non-finite entries', () => {
    expectError(() => linalg.svd(tensor([1, 2, 3])), 'svd', 'a [3] (float32, cpu) must be a matrix [m, n]');
    expectError(() => linalg.svd(tensor([[1, NaN]])), 'svd', 'entry 1 of the [1, 2] matrix is NaN; expected finite values');
  });
});
