/**
 * Claim 10, degenerate input (docs/math.md): if the frozen factor is rank-deficient, AᵀA (BBᵀ) is
 * singular; the op must say so clearly — a LorafaError that names the condition estimate —
 * and, with an explicit ridge λ > 0, return the ridge solution
 *   LoRA-FA: gradB = (1/σ)(AᵀA + λI)⁻¹AᵀG = argmin ‖A·g − G/σ‖² + λ‖g‖²
 * (LoRA-FB: the same from the right), checked against least squares on the stacked
 * system [A; √λ·I]·g ≈ [G/σ; 0] (a QR, not the op's Cholesky).
 */
import fc from 'fast-check';
import { LorafaError } from '../errors.ts';
import { EPSILON, roundoff, worst, type Claim, type Outcome } from './claim.ts';
import { fullGradient, loraCase, makeData, runMethod, type LoraCase, type LoraData } from './cases.ts';
import { gramCondition, lstsq, mat, norm, scale, sub, transpose, type Mat } from './dense.ts';
import type { Side } from './claims-projection.ts';

interface DegenerateCase {
  base: LoraCase;
  side: Side;
  /** λ = 10^logRidge. */
  logRidge: number;
}

/** U [n, r] made rank-deficient: its last column repeats the first (r ≥ 2) or is zero (r = 1). */
function deficient(U: Mat): Mat {
  const out = mat(U.rows, U.cols, Float64Array.from(U.data));
  const last = U.cols - 1;
  for (let i = 0; i < U.rows; i++) out.data[i * U.cols + last] = last === 0 ? 0 : U.data[i * U.cols]!;
  return out;
}

/** [U; √λ·I] and [H; 0]: least squares on them is ridge regression. */
function stacked(U: Mat, H: Mat, lambda: number): { U: Mat; H: Mat } {
  const n = U.rows, r = U.cols, m = H.cols;
  const Us = mat(n + r, r), Hs = mat(n + r, m);
  Us.data.set(U.data);
  Hs.data.set(H.data);
  for (let k = 0; k < r; k++) Us.data[(n + k) * r + k] = Math.sqrt(lambda);
  return { U: Us, H: Hs };
}

function check({ base, side, logRidge }: DegenerateCase): Outcome {
  const good = makeData(base);
  const data: LoraData = side === 'FA' ? { ...good, A: deficient(good.A) } : { ...good, B: transpose(deficient(transpose(good.B))) };
  const method = side === 'FA' ? 'loraFA' : 'loraFB';
  let refusal: Outcome;
  try {
    runMethod(data, method);
    refusal = { error: Infinity, tolerance: 0, note: 'a rank-deficient factor was accepted without a ridge' };
  } catch (e) {
    const clear = e instanceof LorafaError && e.message.startsWith(`${method}:`) && /condition estimate/.test(e.message);
    refusal = { error: clear ? 0 : Infinity, tolerance: 0, note: clear ? 'refused' : `unclear error: ${String(e)}` };
  }
  const lambda = 10 ** logRidge;
  const run = runMethod(data, method, { ridge: lambda });
  const G = fullGradient(data);
  const U = side === 'FA' ? data.A : transpose(data.B);
  const H = scale(side === 'FA' ? G : transpose(G), 1 / base.sigma);
  const s = stacked(U, H, lambda);
  const reference = lstsq(s.U, s.H);
  const got = side === 'FA' ? run.gradB! : transpose(run.gradA!);
  const natural = norm(H) / Math.max(norm(U), Math.sqrt(lambda));
  return worst(refusal, {
    error: norm(sub(got, reference)) / Math.max(norm(reference), natural, Number.MIN_VALUE),
    tolerance: roundoff(EPSILON.float64, [s.U.rows, s.H.cols, base.N], gramCondition(s.U)),
    note: `ridge λ = ${lambda.toExponential(2)}`,
  });
}

export function degenerateClaims(): Claim<never>[] {
  const claim: Claim<DegenerateCase> = {
    id: '10 rank-deficient · f64',
    title: 'a singular AᵀA (BBᵀ) is refused naming the condition estimate; { ridge: λ } gives (AᵀA + λI)⁻¹',
    unit: 'rel',
    arbitrary: fc.record({ base: loraCase('float64'), side: fc.constantFrom<Side>('FA', 'FB'), logRidge: fc.double({ min: -4, max: 0, noNaN: true }) }),
    check,
    detects: { grad: 1e-10 },
  };
  return [claim] as Claim<never>[];
}
