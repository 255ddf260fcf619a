/**
 * A claim of the paper as an executable property: fast-check draws cases from `arbitrary`,
 * `check` measures one case and returns its error and the tolerance it must stay within.
 * The same Claim objects drive the vitest suite (test/lora/claims.test.ts) and `npm run verify`.
 */
import type fc from 'fast-check';
import { EPSILON } from '../lora/gram.ts';
import type { FaultKind } from './fault.ts';

export interface Outcome {
  /** What was measured, in the claim's unit (a relative error, a z-score, bytes, ...). */
  error: number;
  /** The claim holds for this case when error ≤ tolerance (NaN never holds). */
  tolerance: number;
  /** Optional words for a counterexample report. */
  note?: string;
  /** The op refused the case with a clear error, and rightly so (an ill-conditioned float32 case). */
  refused?: boolean;
}

export interface Claim<C = unknown> {
  /** Short id, e.g. '1 closed form · f64'. */
  id: string;
  /** What is claimed, in one line (docs/math.md's words). */
  title: string;
  /** The unit of `error`, for the table. */
  unit: string;
  arbitrary: fc.Arbitrary<C>;
  check(c: C): Outcome;
  /** Share of the requested number of runs this claim uses (Monte Carlo claims are costlier). */
  runsFactor?: number;
  /**
   * The self-test: each injected fault this claim must detect (fail on), with the smallest size
   * at which it does (fault.ts; docs/verification.md). Each of the project's claims detects at least one.
   */
  detects?: Partial<Record<FaultKind, number>>;
}

export function holds(o: Outcome): boolean {
  return o.error <= o.tolerance;
}

/** The outcome closest to failing (largest error/tolerance; a failing or NaN one wins). */
export function worst(...outcomes: Outcome[]): Outcome {
  const ratio = (o: Outcome) => (Number.isNaN(o.error) ? Infinity : o.error === 0 ? 0 : o.error / o.tolerance);
  return outcomes.reduce((a, b) => (ratio(b) > ratio(a) ? b : a));
}

/** Machine epsilon of each float dtype (one table, src/lora/gram.ts). */
export { EPSILON };
export type FloatDType = keyof typeof EPSILON;

/**
 * The constant in every rounding tolerance. It is empirical, not derived: the forms ε·κ·√(Σ dims)
 * are rounding-error growth laws, but their constant was chosen from observed errors (over 3000
 * random cases per claim the worst error stayed below a quarter of 16).
 */
export const TOL = 16;

/**
 * The rounding tolerance of a result made of sums over the given dimensions, in a dtype of
 * machine epsilon ε, through a solve that can amplify relative errors by κ:
 *   TOL · ε · κ · √(Σ dims)   (rounding errors of varying sign grow like the square root of a sum's length)
 */
export function roundoff(eps: number, dims: readonly number[], kappa = 1): number {
  return TOL * eps * Math.max(1, kappa) * Math.sqrt(Math.max(1, dims.reduce((a, b) => a + b, 0)));
}
