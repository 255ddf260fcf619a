/**
 * Small dense float64 matrices on the host, for the reference side of the claims. These are
 * deliberately a different algorithm from the op under test: least squares and projections go
 * through a QR factorisation of A (never the normal equations AᵀA that the ops factor), and
 * condition numbers through a one-sided Jacobi SVD.
 */
import type { Tensor } from '../tensor.ts';

/** A row-major rows×cols matrix. */
export interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function mat(rows: number, cols: number, data: Float64Array = new Float64Array(rows * cols)): Mat {
  return { rows, cols, data };
}

/** The values of a CPU tensor of rank 2 as a float64 Mat. */
export function fromTensor(t: Tensor): Mat {
  const [rows, cols] = t.shape.length === 2 ? (t.shape as [number, number]) : [1, t.size];
  return mat(rows, cols, Float64Array.from(t.dataSync()));
}

export function matmul(a: Mat, b: Mat): Mat {
  const c = mat(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const x = a.data[i * a.cols + k]!;
      if (x === 0) continue;
      for (let j = 0; j < b.cols; j++) c.data[i * b.cols + j]! += x * b.data[k * b.cols + j]!;
    }
  }
  return c;
}

export function transpose(a: Mat): Mat {
  const t = mat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) t.data[j * a.rows + i] = a.data[i * a.cols + j]!;
  return t;
}

/** a·s + b·t elementwise. */
export function combine(a: Mat, s: number, b: Mat, t: number): Mat {
  return mat(a.rows, a.cols, a.data.map((x, i) => s * x + t * b.data[i]!));
}

export function scale(a: Mat, s: number): Mat {
  return mat(a.rows, a.cols, a.data.map((x) => s * x));
}

export const sub = (a: Mat, b: Mat): Mat => combine(a, 1, b, -1);

/** ⟨a, b⟩_F = Σ aᵢⱼ·bᵢⱼ. */
export function dot(a: Mat, b: Mat): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

/** ‖a‖_F. */
export function norm(a: Mat): number {
  return Math.sqrt(dot(a, a));
}

/** ‖a − b‖_F / max(‖b‖_F, tiny): the relative error of a against the reference b. */
export function relError(a: Mat, b: Mat): number {
  return norm(sub(a, b)) / Math.max(norm(b), Number.MIN_VALUE);
}

/**
 * Thin QR of a [m, n], m ≥ n, full column rank: Q [m, n] with orthonormal columns and upper
 * triangular R [n, n], a = Q·R. Classical Gram–Schmidt applied twice ("twice is enough"),
 * which keeps Q orthogonal to working precision.
 */
export function qr(a: Mat): { Q: Mat; R: Mat } {
  const { rows: m, cols: n } = a;
  const Q = transpose(a); // row k of Q (as stored here) is column k of the result
  const R = mat(n, n);
  for (let k = 0; k < n; k++) {
    const qk = Q.data.subarray(k * m, (k + 1) * m);
    for (let pass = 0; pass < 2; pass++) {
      const c = new Float64Array(k);
      for (let j = 0; j < k; j++) {
        const qj = Q.data.subarray(j * m, (j + 1) * m);
        for (let i = 0; i < m; i++) c[j]! += qj[i]! * qk[i]!;
      }
      for (let j = 0; j < k; j++) {
        const qj = Q.data.subarray(j * m, (j + 1) * m);
        for (let i = 0; i < m; i++) qk[i]! -= c[j]! * qj[i]!;
        R.data[j * n + k]! += c[j]!;
      }
    }
    const nk = Math.hypot(...qk);
    R.data[k * n + k] = nk;
    for (let i = 0; i < m; i++) qk[i]! /= nk;
  }
  return { Q: transpose(Q), R };
}

/** Solves R·x = b for upper-triangular R [n, n], b [n, k]. */
export function backSubstitute(R: Mat, b: Mat): Mat {
  const n = R.rows, k = b.cols;
  const x = mat(n, k, Float64Array.from(b.data));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = i + 1; j < n; j++) {
      const rij = R.data[i * n + j]!;
      for (let c = 0; c < k; c++) x.data[i * k + c]! -= rij * x.data[j * k + c]!;
    }
    for (let c = 0; c < k; c++) x.data[i * k + c]! /= R.data[i * n + i]!;
  }
  return x;
}

/** (aᵀa)⁻¹·v for a [m, n] of full column rank, through a's QR: aᵀa = RᵀR, so x = R⁻¹·(R⁻ᵀ·v). */
export function solveGram(a: Mat, v: Mat): Mat {
  const { R } = qr(a);
  const n = R.rows, k = v.cols;
  const z = mat(n, k, Float64Array.from(v.data)); // Rᵀ·z = v by forward substitution
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const rji = R.data[j * n + i]!;
      for (let c = 0; c < k; c++) z.data[i * k + c]! -= rji * z.data[j * k + c]!;
    }
    for (let c = 0; c < k; c++) z.data[i * k + c]! /= R.data[i * n + i]!;
  }
  return backSubstitute(R, z);
}

/** argmin_x ‖a·x − b‖_F for a [m, n] of full column rank, via QR: R·x = Qᵀ·b. */
export function lstsq(a: Mat, b: Mat): Mat {
  const { Q, R } = qr(a);
  return backSubstitute(R, matmul(transpose(Q), b));
}

/** P_a·b = Q·Qᵀ·b, the orthogonal projection of b's columns onto col(a). */
export function project(a: Mat, b: Mat): Mat {
  const { Q } = qr(a);
  return matmul(Q, matmul(transpose(Q), b));
}

/** Singular values of a [m, n] (m ≥ n), descending: one-sided Jacobi (Hestenes) rotations until the columns are orthogonal. */
export function singularValues(a: Mat): number[] {
  const { rows: m, cols: n } = a;
  const c = transpose(a); // row j = column j of a
  const col = (j: number) => c.data.subarray(j * m, (j + 1) * m);
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const x = col(p), y = col(q);
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < m; i++) {
          alpha += x[i]! ** 2;
          beta += y[i]! ** 2;
          gamma += x[i]! * y[i]!;
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + t * t), sn = cs * t;
        for (let i = 0; i < m; i++) {
          const xi = x[i]!, yi = y[i]!;
          x[i] = cs * xi - sn * yi;
          y[i] = sn * xi + cs * yi;
        }
      }
    }
    if (!rotated) break;
  }
  return Array.from({ length: n }, (_, j) => Math.hypot(...col(j))).sort((u, v) => v - u);
}

/** κ₂(aᵀa) = (σmax/σmin)² of a [m, n], m ≥ n (∞ when a is rank-deficient). */
export function gramCondition(a: Mat): number {
  const s = singularValues(a);
  return (s[0]! / s[s.length - 1]!) ** 2;
}
