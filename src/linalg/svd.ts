/**
 * The thin singular value decomposition in float64, on plain row-major arrays:
 *   M [m, n] = U·diag(S)·Vᵀ,   k = min(m, n),   U [m, k] and V [n, k] with orthonormal columns,
 *   S [k] non-negative and descending.
 * Used by the PiSSA and LoRA-GA inits (src/lora/) and the public `linalg.svd`.
 *
 * Algorithm: one-sided Jacobi (Hestenes). Work on the tall orientation (Mᵀ when m < n), whose n
 * columns are rotated in pairs until every pair is orthogonal: for columns x, y with
 * α = ‖x‖², β = ‖y‖², γ = ⟨x, y⟩, the rotation by t = sign(ζ)/(|ζ| + √(1 + ζ²)), ζ = (β − α)/(2γ)
 * makes ⟨x', y'⟩ = 0; the same rotations applied to I accumulate V. At convergence M·V = U·diag(S)
 * with S the column norms. A pair counts as orthogonal when |γ| ≤ ε·√(αβ), so singular values
 * carry small relative errors (Demmel & Veselić). Columns of exactly zero norm (rank-deficient
 * M) get unit vectors orthogonal to the others by Gram–Schmidt on the standard basis, so U is
 * orthonormal whatever the rank.
 */
import { fail } from '../errors.ts';

export interface SvdF64 {
  /** [m, k] row-major. */
  U: Float64Array;
  /** [k], descending. */
  S: Float64Array;
  /** [n, k] row-major. */
  V: Float64Array;
  k: number;
}

const MAX_SWEEPS = 80;

/** The thin SVD of a [m, n] (row-major); throws a LorafaError naming op for a non-finite entry. */
export function svdF64(a: ArrayLike<number>, m: number, n: number, op = 'svd'): SvdF64 {
  for (let i = 0; i < m * n; i++) {
    if (!Number.isFinite(a[i]!)) fail(op, `entry ${i} of the [${m}, ${n}] matrix is ${a[i]}; expected finite values`);
  }
  const tall = m >= n;
  const [rows, cols] = tall ? [m, n] : [n, m]; // the orientation whose columns are rotated: rows ≥ cols
  // C holds the columns of the tall matrix as rows (contiguous): C[j] = column j
  const C = new Float64Array(rows * cols);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      if (tall) C[j * rows + i] = a[i * n + j]!;
      else C[i * rows + j] = a[i * n + j]!;
    }
  }
  const Vt = new Float64Array(cols * cols); // row j = column j of V (for the tall orientation)
  for (let j = 0; j < cols; j++) Vt[j * cols + j] = 1;
  rotateToOrthogonal(C, Vt, rows, cols);

  const norms = Array.from({ length: cols }, (_, j) => Math.sqrt(dotRows(C, j, j, rows)));
  const order = norms.map((_, j) => j).sort((p, q) => norms[q]! - norms[p]!);
  const k = cols;
  const S = Float64Array.from(order, (j) => norms[j]!);
  const left = new Float64Array(rows * k); // row c = left vector c
  const right = new Float64Array(cols * k); // row c = right vector c
  order.forEach((j, c) => {
    for (let i = 0; i < rows; i++) left[c * rows + i] = S[c]! > 0 ? C[j * rows + i]! / S[c]! : 0;
    right.set(Vt.subarray(j * cols, (j + 1) * cols), c * cols);
  });
  for (let c = 0; c < k; c++) if (S[c] === 0) completeBasis(left, c, rows);
  // back to M's orientation: tall → U = left vectors, V = right; wide → swapped
  const [u, uLen, v, vLen] = tall ? [left, rows, right, cols] : [right, cols, left, rows];
  return { U: columnsOf(u, k, uLen), S, V: columnsOf(v, k, vLen), k };
}

/** Jacobi sweeps over column pairs (rows of C) until every pair is orthogonal to ε; V accumulates the rotations. */
function rotateToOrthogonal(C: Float64Array, Vt: Float64Array, rows: number, cols: number): void {
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) {
        const alpha = dotRows(C, p, p, rows), beta = dotRows(C, q, q, rows), gamma = dotRows(C, p, q, rows);
        if (gamma === 0 || Math.abs(gamma) <= Number.EPSILON * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        rotate(C, p, q, rows, c, s);
        rotate(Vt, p, q, cols, c, s);
      }
    }
    if (!rotated) return;
  }
}

/** ⟨row p, row q⟩ of a matrix with rows of length len. */
function dotRows(X: Float64Array, p: number, q: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i++) sum += X[p * len + i]! * X[q * len + i]!;
  return sum;
}

/** (x, y) ← (c·x − s·y, s·x + c·y) for rows p and q. */
function rotate(X: Float64Array, p: number, q: number, len: number, c: number, s: number): void {
  for (let i = 0; i < len; i++) {
    const x = X[p * len + i]!, y = X[q * len + i]!;
    X[p * len + i] = c * x - s * y;
    X[q * len + i] = s * x + c * y;
  }
}

/**
 * Row c of the k×len vectors becomes a unit vector orthogonal to every other row: of the standard
 * basis vectors e_i after Gram–Schmidt (twice) against the others, the one with the largest norm
 * left (at least 1/√len, since the squared norms removed add up to at most k − 1 < len).
 */
function completeBasis(vectors: Float64Array, c: number, len: number): void {
  const k = vectors.length / len;
  let best = new Float64Array(len), bestNorm = -1;
  for (let e = 0; e < len; e++) {
    const row = new Float64Array(len);
    row[e] = 1;
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < k; j++) {
        if (j === c) continue;
        const other = vectors.subarray(j * len, (j + 1) * len);
        let dot = 0;
        for (let i = 0; i < len; i++) dot += other[i]! * row[i]!;
        for (let i = 0; i < len; i++) row[i]! -= dot * other[i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < len; i++) norm += row[i]! ** 2;
    if (norm > bestNorm) [best, bestNorm] = [row, norm];
  }
  const scale = 1 / Math.sqrt(bestNorm);
  for (let i = 0; i < len; i++) vectors[c * len + i] = best[i]! * scale;
}

/** k vectors of length len stored as rows → the [len, k] row-major matrix with them as columns. */
function columnsOf(vectors: Float64Array, k: number, len: number): Float64Array {
  const out = new Float64Array(len * k);
  for (let c = 0; c < k; c++) for (let i = 0; i < len; i++) out[i * k + c] = vectors[c * len + i]!;
  return out;
}
