/**
 * Runs a claim with fast-check and summarises it: how many cases, the largest error seen, and
 * — when a case fails — the counterexample fast-check shrank it to, with its outcome.
 */
import fc from 'fast-check';
import { scope } from '../autograd/scope.ts';
import { holds, worst, type Claim, type Outcome } from './claim.ts';
import { withFault, type Fault } from './fault.ts';

export interface ClaimResult {
  /** The claim's words (its id, title and unit). */
  claim: Pick<Claim, 'id' | 'title' | 'unit'>;
  /** Cases drawn before the first failure (all of them when the claim holds). */
  cases: number;
  /** Cases the op refused, rightly (ill-conditioned float32 problems). */
  refused: number;
  /** The outcome with the largest error/tolerance among those cases. */
  worst: Outcome | null;
  holds: boolean;
  /** The shrunk failing case and its outcome. */
  counterexample?: { value: unknown; outcome: Outcome; shrinks: number };
  seed: number;
}

export interface RunOptions {
  numRuns: number;
  seed: number;
  /** Self-test of the checks: a fault the harness injects while the claim runs (fault.ts); the claim should then fail. */
  fault?: Fault;
  /** Shrink a failing case to a minimal counterexample (default true; false stops at the first failure). */
  shrink?: boolean;
}

/** Runs check(c) inside a scope (its tensors are freed); an exception becomes a NaN outcome naming it. */
export function evaluate<C>(claim: Claim<C>, c: C): Outcome {
  try {
    return scope(() => claim.check(c));
  } catch (e) {
    return { error: NaN, tolerance: 0, note: `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` };
  }
}

export function runClaim<C>(claim: Claim<C>, options: RunOptions): ClaimResult {
  const c = claim as Claim<unknown>;
  let cases = 0, refused = 0, failed = false;
  let worstSeen: Outcome | null = null;
  const property = fc.property(c.arbitrary, (value) => {
    const outcome = evaluate(c, value);
    const ok = holds(outcome);
    if (!failed) {
      cases++;
      if (outcome.refused) refused++;
      worstSeen = worstSeen ? worst(worstSeen, outcome) : outcome;
      failed = !ok;
    }
    return ok;
  });
  const numRuns = Math.max(1, Math.round(options.numRuns * (c.runsFactor ?? 1)));
  return withFault(options.fault, () => {
    const details = fc.check(property, { numRuns, seed: options.seed, endOnFailure: options.shrink === false });
    const result: ClaimResult = { claim, cases, refused, worst: worstSeen, holds: !details.failed, seed: options.seed };
    if (details.failed && details.counterexample) {
      const value = details.counterexample[0];
      result.counterexample = { value, outcome: evaluate(c, value), shrinks: details.numShrinks };
    }
    return result;
  });
}
