/**
 * The Gram matrices of LoRA-FA / LoRA-FB and their refusal (src/lora/gram.ts), each check written
 * for a mutant that survived the op tests (docs/verification.md): every entry of M = AᵀA + λI and
 * BBᵀ + λI, the condition estimate against matrices of known spectrum, the limit per dtype, and the
 * wording of the refusal for each side.
 */
import { describe, expect, it } from 'vitest';
import { choleskyF64 } from '../../src/linalg/dense.ts';
import { conditionEstimate, conditionLimit, factorGram, gramF64 } from '../../src/lora/gram.ts';

/** Row-major [rows, cols] values in [−1, 1], fixed by seed. */
function values(rows: number, cols: number, seed: number): number[] {
  return Array.from({ length: rows * cols }, (_, i) => Math.sin(12.9898 * i + seed));
}

/** M = Σ_k λ_k·u_k·u_kᵀ for orthogonal (not necessarily unit) vectors u_k: eigenvalues λ_k. */
function spectral(pairs: [number, number[]][]): Float64Array {
  const r = pairs[0]![1].length;
  const M = new Float64Array(r * r);
  for (const [lambda, u] of pairs) {
    const n2 = u.reduce((s, x) => s + x * x, 0);
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) M[i * r + j]! += (lambda * u[i]! * u[j]!) / n2;
  }
  return M;
}

const estimate = (M: Float64Array, r: number) => conditionEstimate(M, choleskyF64(M, r), r);

describe('gramF64', () => {
  it('is AᵀA + λI for side columns and BBᵀ + λI for side rows, every entry (both triangles)', () => {
    for (const [rows, cols] of [[5, 3], [3, 4], [7, 4]] as const) {
      const v = values(rows, cols, rows * 10 + cols);
      const at = (i: number, j: number) => v[i * cols + j]!;
      for (const [side, r, len] of [['columns', cols, rows], ['rows', rows, cols]] as const) {
        const expected = Array.from({ length: r * r }, (_, k) => {
          const [a, b] = [Math.floor(k / r), k % r];
          let s = a === b ? 0.25 : 0;
          for (let i = 0; i < len; i++) s += side === 'columns' ? at(i, a) * at(i, b) : at(a, i) * at(b, i);
          return s;
        });
        const M = gramF64(v, rows, cols, side, 0.25);
        for (let k = 0; k < r * r; k++) expect(M[k]).toBeCloseTo(expected[k]!, 13);
      }
    }
  });
});

describe('conditionEstimate', () => {
  it('is λmax/λmin for matrices of known spectrum, whichever way the top eigenvector points', () => {
    // 2×2, κ = 2, top eigenvector along (1, −2), (3, −1), (1, 1) and (1, 0): the first two are
    // orthogonal to start vectors (1, ½) and (1, 3) that an iteration could have used instead
    const cases: [number, number[], number[]][] = [[10, [1, -2], [2, 1]], [20, [3, -1], [1, 3]], [4, [1, 1], [1, -1]], [6, [1, 0], [0, 1]]];
    for (const [lambda, top, other] of cases) {
      expect(estimate(spectral([[lambda, top], [lambda / 2, other]]), 2)).toBeCloseTo(2, 9);
    }
    // 4×4 with a wide spectrum: κ = 1e6
    const basis = [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]];
    const M = spectral([[1e6, basis[0]!], [10, basis[1]!], [3, basis[2]!], [1, basis[3]!]]);
    expect(estimate(M, 4) / 1e6).toBeCloseTo(1, 9);
  });
});

describe('factorGram', () => {
  it('accepts a float64 matrix up to 0.1/ε of float64, refuses the same values in float32 above 0.1/ε of float32', () => {
    expect(conditionLimit('float64')).toBe(0.1 * 2 ** 52);
    expect(conditionLimit('float32')).toBe(0.1 * 2 ** 23);
    const A = [1, 0, 0, 1e-4]; // AᵀA = diag(1, 1e-8): κ = 1e8
    expect(Array.from(factorGram('loraFA', 'A', [2, 2], 'float64', A, 'columns', 0))).toEqual([1, 0, 0, 1e-4]);
    expect(() => factorGram('loraFA', 'A', [2, 2], 'float32', A, 'columns', 0))
      .toThrow('loraFA: AᵀA of A [2, 2] (float32) is ill-conditioned: condition estimate 1.00e+8 exceeds 8.39e+5 (0.1/ε for float32)');
  });

  it('names the Gram matrix, the rank to restore and the ridge to opt in to, for each side', () => {
    const advice = (m: string, rank: string) => `use a ${m} of full ${rank} rank (a fresh gaussian, uniform or orthogonal init), ` +
      `or opt in to a ridge: { ridge: λ } solves with (${m === 'A' ? 'AᵀA' : 'BBᵀ'} + λI) instead`;
    expect(() => factorGram('loraFA', 'A', [3, 2], 'float64', [1, 2, 2, 4, 3, 6], 'columns', 0))
      .toThrow(/^loraFA: AᵀA of A \[3, 2\] \(float64\) is (singular|ill-conditioned)/);
    expect(() => factorGram('loraFA', 'A', [3, 2], 'float64', [0, 0, 0, 0, 0, 0], 'columns', 0))
      .toThrow(`loraFA: AᵀA of A [3, 2] (float64) is singular (A is rank-deficient): Cholesky pivot 0 is 0.00e+0 ≤ 0, condition estimate ∞; ${advice('A', 'column')}`);
    expect(() => factorGram('loraFB', 'B', [2, 3], 'float64', [0, 0, 0, 0, 0, 0], 'rows', 0))
      .toThrow(`loraFB: BBᵀ of B [2, 3] (float64) is singular (B is rank-deficient): Cholesky pivot 0 is 0.00e+0 ≤ 0, condition estimate ∞; ${advice('B', 'row')}`);
    expect(() => factorGram('loraFB', 'B', [2, 3], 'float32', [1, 0, 0, 0, 1e-4, 0], 'rows', 0))
      .toThrow(`loraFB: BBᵀ of B [2, 3] (float32) is ill-conditioned: condition estimate 1.00e+8 exceeds 8.39e+5 (0.1/ε for float32), so the corrected gradient would have no correct digits; ${advice('B', 'row')}`);
  });
});
