/**
 * Small dense linear algebra in float64 on plain arrays (row-major): the one host implementation,
 * used by the CPU backend's cholSolve kernel, the LoRA factor cache (src/lora/gram.ts) and the
 * public `linalg` namespace (index.ts). Its matrices are the r×r factors of LoRA-FA / LoRA-FB
 * (r ≤ a few hundred), so clarity wins over blocking.
 */

import { fail, LorafaError } from '../errors.ts';

/** A LorafaError (like every bad-input error) that also carries the failing pivot. */
export class NotPositiveDefiniteError extends LorafaError {
  constructor(op: string, readonly column: number, readonly pivot: number) {
    super(op, `matrix is not positive definite: pivot ${column} is ${pivot.toExponential(3)}; ` +
      'expected a symmetric positive definite matrix (full column rank for AᵀA)');
    this.name = 'NotPositiveDefiniteError';
  }
}

/** Lower-triangular L [n, n] with L·Lᵀ = a; throws NotPositiveDefiniteError on a pivot ≤ 0. */
export function choleskyF64(a: ArrayLike<number>, n: number, op = 'cholesky'): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= L[j * n + k]! ** 2;
    if (!(d > 0)) throw new NotPositiveDefiniteError(op, j, d);
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      L[i * n + j] = s / ljj;
    }
  }
  return L;
}

/**
 * Solves op(L)·X = B in place for X [n, cols] (B overwritten), L [n, n] lower-triangular;
 * op(L) = L (forward substitution) or Lᵀ (back substitution). A zero or non-finite pivot L[i, i]
 * (a singular L: X would be ±∞ or NaN) is an error naming op, before B is touched.
 */
export function triangularSolveF64(L: ArrayLike<number>, B: Float64Array, n: number, cols: number, transpose: boolean, op = 'triangularSolve'): void {
  for (let i = 0; i < n; i++) {
    const d = L[i * n + i]!;
    if (d === 0 || !Number.isFinite(d)) {
      fail(op, `pivot ${i} (L[${i}, ${i}]) is ${d}; expected a lower-triangular L with a finite non-zero diagonal`);
    }
  }
  if (!transpose) {
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < i; k++) {
        const l = L[i * n + k]!;
        for (let c = 0; c < cols; c++) B[i * cols + c]! -= l * B[k * cols + c]!;
      }
      const d = L[i * n + i]!;
      for (let c = 0; c < cols; c++) B[i * cols + c]! /= d;
    }
  } else {
    for (let i = n - 1; i >= 0; i--) {
      for (let k = i + 1; k < n; k++) {
        const l = L[k * n + i]!;
        for (let c = 0; c < cols; c++) B[i * cols + c]! -= l * B[k * cols + c]!;
      }
      const d = L[i * n + i]!;
      for (let c = 0; c < cols; c++) B[i * cols + c]! /= d;
    }
  }
}

/** X [r, cols] with L·Lᵀ·X = rhs, computed in float64 whatever rhs's dtype; op names errors. */
export function cholSolveF64(L: ArrayLike<number>, rhs: ArrayLike<number>, r: number, cols: number, op = 'cholSolve'): Float64Array {
  const X = Float64Array.from(rhs as ArrayLike<number>);
  triangularSolveF64(L, X, r, cols, false, op);
  triangularSolveF64(L, X, r, cols, true, op);
  return X;
}
