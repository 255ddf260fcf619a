/**
 * Every claim of docs/math.md as a fast-check property (the same checks `npm run verify`
 * runs, with CI's numRuns and seed from test/helpers/setup.ts), and proof that the checks can fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { holds, type Claim } from '../../src/verify/claim.ts';
import { makeData, type LoraCase } from '../../src/verify/cases.ts';
import { allClaims } from '../../src/verify/claims.ts';
import { closedForm, descent, optimality, problem, projection, type Problem } from '../../src/verify/claims-projection.ts';
import { runClaim } from '../../src/verify/run.ts';
import { mat } from '../../src/verify/dense.ts';

const { numRuns = 25, seed = 0 } = fc.readConfigureGlobal();

describe('the claims of docs/math.md hold', () => {
  for (const claim of allClaims()) {
    it(claim.id, () => {
      const result = runClaim(claim, { numRuns, seed });
      expect(result.counterexample, JSON.stringify(result.counterexample)).toBeUndefined();
      expect(result.holds).toBe(true);
      expect(result.cases).toBe(Math.round(numRuns * (claim.runsFactor ?? 1)));
    });
  }
});

describe('the checks detect a wrong answer', () => {
  const c: LoraCase = { N: 9, d: 10, o: 6, r: 3, sigma: 1.7, seed: 42, init: 'gaussian', dtype: 'float64' };
  const good = problem(makeData(c), 'FA') as Problem;

  it('claims 1–4 hold for the corrected gradient and fail for the uncorrected one', () => {
    for (const check of [closedForm, projection, optimality, descent]) {
      expect(holds(check(good)), check.name).toBe(true);
      expect(holds(check({ ...good, gTilde: good.gNone })), check.name).toBe(false);
    }
  });

  it('with a negative σ, a gradient computed with |σ| fails claims 1, 2 and 4 (σ of both signs is drawn)', () => {
    const negative = problem(makeData({ ...c, sigma: -1.7 }), 'FA') as Problem;
    const withAbs = { ...negative, gTilde: mat(negative.gTilde.rows, negative.gTilde.cols, negative.gTilde.data.map((v) => -v)) }; // (1/|σ|) instead of (1/σ)
    for (const check of [closedForm, projection, descent]) {
      expect(holds(check(negative)), check.name).toBe(true);
      expect(holds(check(withAbs)), check.name).toBe(false);
    }
  });

  it('the LoRA-FB checks fail when gradA is not projected', () => {
    const fb = problem(makeData(c), 'FB') as Problem;
    expect(holds(closedForm(fb)) && holds(projection(fb))).toBe(true);
    expect(holds(closedForm({ ...fb, gTilde: fb.gNone })) || holds(projection({ ...fb, gTilde: fb.gNone }))).toBe(false);
  });

  it('a false claim is reported with a shrunk counterexample; an exception is a failure naming it', () => {
    const falseClaim: Claim<number> = {
      id: 'n ≤ 10', title: 'every n is at most 10', unit: 'n',
      arbitrary: fc.integer({ min: 1, max: 1000 }),
      check: (n) => ({ error: n, tolerance: 10 }),
    };
    const r = runClaim(falseClaim as Claim<never>, { numRuns: 100, seed: 1 });
    expect(r.holds).toBe(false);
    expect(r.counterexample?.value).toBe(11);
    expect(r.counterexample?.outcome.error).toBe(11);
    const throwing: Claim<number> = { ...falseClaim, check: () => { throw new Error('boom'); } };
    const t = runClaim(throwing as Claim<never>, { numRuns: 5, seed: 1 });
    expect(t.holds).toBe(false);
    expect(t.counterexample?.outcome.note).toBe('threw Error: boom');
  });
});
