/**
 * The checks of the checks: every claim fails when the harness injects the fault it must detect,
 * at the smallest size it claims to detect (Claim.detects; docs/verification.md) — so a loosened
 * tolerance, a loosened Monte Carlo bound or an ignored leftover byte turns a test red. And the
 * fault machinery itself: parsing, clear errors, and no effect when no fault is set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LorafaError } from '../../src/index.ts';
import { allClaims } from '../../src/verify/claims.ts';
import { energyCase, randomSubspace } from '../../src/verify/claims-init.ts';
import { Z } from '../../src/verify/claims-theorem.ts';
import { mat } from '../../src/verify/dense.ts';
import { biased, faultSize, FAULT_KINDS, leak, modelled, parseFault, perturb, withFault } from '../../src/verify/fault.ts';
import { runClaim } from '../../src/verify/run.ts';
import { expectError } from '../helpers/errors.ts';

const { numRuns = 25, seed = 0 } = fc.readConfigureGlobal();

describe('each claim fails on its injected fault at the smallest size it detects', () => {
  for (const claim of allClaims()) {
    const faults = Object.entries(claim.detects ?? {});
    it(`${claim.id}: ${faults.map(([k, s]) => `${k}:${s}`).join(', ')}`, () => {
      expect(faults.length, 'every claim detects at least one fault').toBeGreaterThan(0);
      for (const [kind, size] of faults) {
        const r = runClaim(claim, { numRuns, seed, fault: { kind: kind as (typeof FAULT_KINDS)[number], size: size! }, shrink: false });
        expect(r.holds, `${claim.id} missed ${kind}:${size}`).toBe(false);
        expect(r.counterexample!.outcome.note ?? '', 'a measured failure, not an exception').not.toMatch(/^threw/);
      }
    });
  }
});

describe('the Monte Carlo bound of claim 13 (ii)', () => {
  it(`rejects the wrong law r/(d + 1) for every case by more than Z = ${Z} standard errors (and accepts r/d)`, () => {
    fc.assert(fc.property(energyCase, (c) => {
      expect(randomSubspace(c).error).toBeLessThanOrEqual(Z);
      expect(randomSubspace(c, (r, d) => r / (d + 1)).error).toBeGreaterThan(Z);
    }), { numRuns: 8 });
  });
});

describe('faults', () => {
  it('parse as KIND:SIZE, and anything else is a clear error', () => {
    expect(parseFault('verify', 'grad:1e-9')).toEqual({ kind: 'grad', size: 1e-9 });
    expect(parseFault('verify', 'sample:-0.1')).toEqual({ kind: 'sample', size: -0.1 });
    expectError(() => parseFault('verify', 'grad'), 'verify', "fault 'grad' is not KIND:SIZE (e.g. grad:1e-9)");
    expectError(() => parseFault('verify', 'grad:'), 'verify', 'is not KIND:SIZE');
    expectError(() => parseFault('verify', 'grad:1:2'), 'verify', 'is not KIND:SIZE');
    expectError(() => parseFault('verify', 'bogus:1'), 'verify', "fault kind 'bogus' is unknown; expected one of grad, output, sample, leak, model, stale");
    expectError(() => parseFault('verify', 'grad:0'), 'verify', 'fault size 0 is invalid; expected a finite non-zero number');
    expectError(() => parseFault('verify', 'grad:x'), 'verify', 'fault size NaN is invalid');
    expectError(() => parseFault('verify', 'leak:1.5'), 'verify', 'fault size 1.5 is invalid for leak; expected a whole number of elements ≥ 1');
    expectError(() => runClaim(allClaims()[0]!, { numRuns: 1, seed: 1, fault: { kind: 'leak', size: -1 } }), 'runClaim', 'invalid for leak');
  });

  it('change nothing when none is set, and are active only inside withFault (also after a throw)', () => {
    const m = mat(2, 2, Float64Array.from([1, 2, 3, 4]));
    expect(perturb('grad', m, 10)).toBe(m);
    expect([biased(3), modelled(3), faultSize('grad'), leak()]).toEqual([3, 3, 0, null]);
    withFault({ kind: 'grad', size: 1e-3 }, () => {
      const p = perturb('grad', m, 10);
      const moved = Math.hypot(...p.data.map((x, i) => x - m.data[i]!));
      expect(moved).toBeCloseTo(1e-3 * 10, 12); // δ·max(‖m‖ = 5.48, natural = 10)
      expect(perturb('output', m, 10)).toBe(m);
      expect(perturb('grad', m, Infinity).data).not.toEqual(m.data); // an infinite natural scale falls back to ‖m‖
    });
    withFault({ kind: 'sample', size: 0.5 }, () => expect(biased(2)).toBe(3));
    withFault({ kind: 'model', size: 7 }, () => expect(modelled(2)).toBe(9));
    expect(() => withFault({ kind: 'model', size: 1 }, () => { throw new LorafaError('x', 'boom'); })).toThrow('boom');
    expect(modelled(2)).toBe(2);
  });
});
