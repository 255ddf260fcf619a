/**
 * The two inits that take A and B from an SVD and rewrite the frozen base weight to the residual
 * W_res = W − σ·A·B, so that the adapted layer computes exactly what the base did at the start
 * (docs/math.md, "PiSSA" and "LoRA-GA"). Host float64, on the layout A [d, r], B [r, o]:
 *
 *   PiSSA    W = U·S·Vᵀ:  A = U_r·diag(√(S_r/|σ|)),  B = sign(σ)·diag(√(S_r/|σ|))·V_rᵀ,  so σ·A·B = U_r·S_r·V_rᵀ = [W]_r
 *   LoRA-GA  G = U·S·Vᵀ (the first batch's full gradient):  A = c·U[:, 0..r),  B = c·V[:, r..2r)ᵀ,
 *            c = 1/|σ| ('gd') or o^¼/√γ ('stable', γ = 16 by default)
 * U_r, S_r, V_r: the top r singular triplets.
 */
import { fail } from '../errors.ts';
import { svdF64 } from '../linalg/svd.ts';

export interface Factors {
  /** [d, r] row-major. */
  A: Float64Array;
  /** [r, o] row-major. */
  B: Float64Array;
}

/** PiSSA's A and B from W [d, o] (its top-r singular triplets), scaled so that σ·A·B = [W]_r for either sign of σ. */
export function pissaFactors(op: string, W: ArrayLike<number>, d: number, o: number, r: number, scale: number): Factors {
  const { U, S, V, k } = svdF64(W, d, o, op);
  const A = new Float64Array(d * r), B = new Float64Array(r * o);
  for (let c = 0; c < r; c++) {
    const root = Math.sqrt(S[c]! / Math.abs(scale));
    for (let i = 0; i < d; i++) A[i * r + c] = U[i * k + c]! * root;
    for (let j = 0; j < o; j++) B[c * o + j] = Math.sign(scale) * root * V[j * k + c]!;
  }
  return { A, B };
}

export type LoraGaScale = 'gd' | 'stable';

export interface LoraGaOptions {
  /** 'gd' (default): c = 1/|σ|, so the first SGD step is −η·[G]_2r to first order; 'stable': c = o^¼/√γ (LoRA-GA's default for Adam). */
  scale?: LoraGaScale;
  /** γ of the 'stable' scale (default 16). */
  gamma?: number;
}

/** LoRA-GA's A and B from the full gradient G [d, o]: A spans its top r left singular vectors, B the next r right ones. */
export function loraGaFactors(op: string, G: ArrayLike<number>, d: number, o: number, r: number, scale: number, options: LoraGaOptions = {}): Factors {
  const { scale: kind = 'gd', gamma = 16 } = options;
  if (kind !== 'gd' && kind !== 'stable') fail(op, `LoRA-GA scale '${String(kind)}' is unknown; expected 'gd' or 'stable'`);
  if (!(Number.isFinite(gamma) && gamma > 0)) fail(op, `LoRA-GA gamma = ${gamma} is invalid; expected a finite γ > 0`);
  if (G.length !== d * o) fail(op, `the LoRA-GA gradient has ${G.length} values; expected G [${d}, ${o}] (${d * o} values)`);
  if (2 * r > Math.min(d, o)) fail(op, `LoRA-GA needs 2r ≤ min(d, o): rank ${r} gives 2r = ${2 * r} > ${Math.min(d, o)} for W [${d}, ${o}]`);
  const c = kind === 'gd' ? 1 / Math.abs(scale) : o ** 0.25 / Math.sqrt(gamma);
  const { U, V, k } = svdF64(G, d, o, op);
  const A = new Float64Array(d * r), B = new Float64Array(r * o);
  for (let t = 0; t < r; t++) {
    for (let i = 0; i < d; i++) A[i * r + t] = c * U[i * k + t]!;
    for (let j = 0; j < o; j++) B[t * o + j] = c * V[j * k + r + t]!;
  }
  return { A, B };
}

/** W − σ·A·B [d, o] in float64, A [d, r], B [r, o]. */
export function residualWeight(W: ArrayLike<number>, A: ArrayLike<number>, B: ArrayLike<number>, d: number, o: number, r: number, scale: number): Float64Array {
  const out = Float64Array.from(W);
  for (let i = 0; i < d; i++) {
    for (let t = 0; t < r; t++) {
      const a = scale * A[i * r + t]!;
      if (a === 0) continue;
      for (let j = 0; j < o; j++) out[i * o + j]! -= a * B[t * o + j]!;
    }
  }
  return out;
}
