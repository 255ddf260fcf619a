/**
 * `lorafa verify` end to end when a claim fails: the claim list is replaced (vi.mock, test-only)
 * by one claim that holds and one that does not, and the command must print the NO row and the
 * shrunk counterexample, and exit 1.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Claim } from '../../src/verify/claim.ts';
import { run } from '../../src/cli/verify.ts'; // sees the mocked claims: vi.mock is hoisted above the imports

vi.mock('../../src/verify/claims.ts', () => {
  const holds: Claim<number> = {
    id: 'fixture holds', title: 'every n is at most 1000', unit: 'n',
    arbitrary: fc.integer({ min: 1, max: 1000 }), check: (n) => ({ error: n, tolerance: 1000 }), detects: { model: 1 },
  };
  const fails: Claim<number> = {
    id: 'fixture fails', title: 'every n is at most 10', unit: 'n',
    arbitrary: fc.integer({ min: 1, max: 1000 }), check: (n) => ({ error: n, tolerance: 10 }),
  };
  return { allClaims: () => [holds, fails] };
});

afterEach(() => vi.restoreAllMocks());

describe('lorafa verify with a failing claim', () => {
  it('prints NO and the shrunk counterexample, and exits 1; exits 0 when only the holding claim runs', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await run(['--runs', '50', '--only', 'fixture'])).toBe(1);
    const out = log.mock.calls.map((c) => c.join(' ')).join('\n');
    expect(out).toMatch(/\| fixture fails \| \d+\s+\| \d+ n\s+\| 10\s+\| NO\s+\|/);
    expect(out).toMatch(/\| fixture holds \| 50\s+\| \d+ n\s+\| 1000\s+\| yes\s+\|/);
    expect(out).toContain("counterexample for 'fixture fails'");
    expect(out).toContain('error   11 n > tolerance 10');
    expect(out).toContain('1 of 2 claims hold');
    expect(await run(['--runs', '5', '--only', 'holds'])).toBe(0);
  });

  it('under --inject-fault, names a claim that should have detected the fault and did not', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await run(['--runs', '5', '--only', 'holds', '--inject-fault', 'model:2'])).toBe(0);
    expect(log.mock.calls.map((c) => c.join(' ')).join('\n')).toContain('Self-test model:2: 0 of the 1 claims that detect it failed; MISSED by fixture holds.');
  });
});
