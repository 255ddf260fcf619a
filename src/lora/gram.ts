/**
 * The r×r Gram matrices of LoRA-FA and LoRA-FB, factored on the host in float64:
 *   side 'columns': M = AᵀA (+ λI) for A [d, r]   (LoRA-FA: g̃_B = (1/σ²)·M⁻¹·g_B)
 *   side 'rows':    M = BBᵀ (+ λI) for B [r, o]   (LoRA-FB: g̃_A = (1/σ²)·g_A·M⁻¹)
 * M = L·Lᵀ by Cholesky; the factor is refused, with the condition estimate in the message,
 * when M is singular or too ill-conditioned for the corrected gradient to have correct digits.
 */
import { choleskyF64, cholSolveF64, NotPositiveDefiniteError } from '../linalg/dense.ts';
import type { DType } from '../dtype.ts';
import { fail, fmtShape } from '../errors.ts';
import { formatPosition } from '../shape.ts';

export type GramSide = 'columns' | 'rows';

/** Machine epsilon of each float dtype (the spacing of floats at 1; the unit roundoff is half of it). */
export const EPSILON = { float64: 2 ** -52, float32: 2 ** -23, float16: 2 ** -10, bfloat16: 2 ** -7 } as const;

/**
 * The largest accepted condition number κ₂(M): 0.1/ε of the tensor's dtype (4.5e14 for float64,
 * 8.4e5 for float32, 102 for float16, 12.8 for bfloat16). The corrected gradient M⁻¹·g has a relative error up to about κ·ε, so
 * above this limit it would have less than one correct digit.
 */
export function conditionLimit(dtype: DType): number {
  return 0.1 / EPSILON[dtype === 'int32' ? 'float32' : dtype];
}

/** M [r, r] from the row-major values of t [rows, cols]: AᵀA for 'columns', BBᵀ for 'rows'; plus λ on the diagonal. */
export function gramF64(values: ArrayLike<number>, rows: number, cols: number, side: GramSide, ridge: number): Float64Array {
  const r = side === 'columns' ? cols : rows;
  const len = side === 'columns' ? rows : cols;
  // element (i, j) of the k-th vector: column k of A, or row k of B
  const at = side === 'columns' ? (k: number, i: number) => values[i * cols + k]! : (k: number, i: number) => values[k * cols + i]!;
  const M = new Float64Array(r * r);
  for (let a = 0; a < r; a++) {
    for (let b = 0; b <= a; b++) {
      let s = 0;
      for (let i = 0; i < len; i++) s += at(a, i) * at(b, i);
      M[a * r + b] = s;
      M[b * r + a] = s;
    }
    M[a * r + a]! += ridge;
  }
  return M;
}

/**
 * κ₂(M) = λmax/λmin estimated from below: λmax by power iteration on M, λmin by inverse
 * iteration with the Cholesky factor (M⁻¹v = cholSolve(L, v)). 40 steps of each is plenty for
 * an estimate whose job is to tell 1e3 from 1e12.
 */
export function conditionEstimate(M: Float64Array, L: Float64Array, r: number): number {
  const rayleigh = (apply: (v: Float64Array) => Float64Array): number => {
    let v: Float64Array = Float64Array.from({ length: r }, (_, i) => 1 + i / r);
    let lambda = 0;
    for (let it = 0; it < 40; it++) {
      const norm = Math.hypot(...v);
      v = v.map((x) => x / norm);
      const w = apply(v);
      lambda = v.reduce((s, x, i) => s + x * w[i]!, 0);
      v = w;
    }
    return lambda;
  };
  const lambdaMax = rayleigh((v) => {
    const w = new Float64Array(r);
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) w[i]! += M[i * r + j]! * v[j]!;
    return w;
  });
  const inverseMax = rayleigh((v) => cholSolveF64(L, v, r, 1));
  return lambdaMax * inverseMax;
}

/**
 * The lower-triangular L [r, r] (float64) with L·Lᵀ = M, for the tensor described by (op, label,
 * shape, dtype); throws a LorafaError naming the condition estimate when M is singular or
 * κ(M) > conditionLimit(dtype).
 */
export function factorGram(op: string, label: string, shape: readonly number[], dtype: DType, values: ArrayLike<number>, side: GramSide, ridge: number): Float64Array {
  const [rows, cols] = shape as [number, number];
  const r = side === 'columns' ? cols : rows;
  // a NaN or ±∞ would show up as a failed Cholesky pivot, and be misreported as rank deficiency
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      fail(op, `${label} ${fmtShape(shape)} (${dtype}) holds ${values[i]} at ${formatPosition(i, shape)}; expected finite values (a frozen ${label} is fixed at initialisation)`);
    }
  }
  const M = gramF64(values, rows, cols, side, ridge);
  const gram = side === 'columns' ? `${label}ᵀ${label}` : `${label}${label}ᵀ`;
  const what = `${gram}${ridge > 0 ? ` + ${ridge}·I` : ''} of ${label} ${fmtShape(shape)} (${dtype})`;
  const advice = ridge > 0
    ? 'use a larger ridge'
    : `use a ${label} of full ${side === 'columns' ? 'column' : 'row'} rank (a fresh gaussian, uniform or orthogonal init), ` +
      `or opt in to a ridge: { ridge: λ } solves with (${gram} + λI) instead`;
  let L: Float64Array;
  try {
    L = choleskyF64(M, r, op);
  } catch (e) {
    if (!(e instanceof NotPositiveDefiniteError)) throw e;
    fail(op, `${what} is singular (${label} is rank-deficient): Cholesky pivot ${e.column} is ${e.pivot.toExponential(2)} ≤ 0, ` +
      `condition estimate ∞; ${advice}`);
  }
  const condition = conditionEstimate(M, L, r);
  const limit = conditionLimit(dtype);
  if (!(condition <= limit)) {
    fail(op, `${what} is ill-conditioned: condition estimate ${condition.toExponential(2)} exceeds ${limit.toExponential(2)} ` +
      `(0.1/ε for ${dtype}), so the corrected gradient would have no correct digits; ${advice}`);
  }
  return L;
}
