/** `npm run verify`: the table, the memory audit, the exit codes. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/verify.ts';
import { allClaims } from '../../src/verify/claims.ts';
import { FAULT_KINDS } from '../../src/verify/fault.ts';

function capture(): { out: () => string; err: () => string } {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  return { out: () => log.mock.calls.map((c) => c.join(' ')).join('\n'), err: () => error.mock.calls.map((c) => c.join(' ')).join('\n') };
}

afterEach(() => vi.restoreAllMocks());

describe('lorafa verify', () => {
  it('prints claim | cases | max error | tolerance | holds and exits 0 when every claim holds', async () => {
    const io = capture();
    expect(await run(['--runs', '3', '--only', '8 memory'])).toBe(0);
    const out = io.out();
    expect(out).toContain('| claim                  | cases | max error | tolerance | holds |');
    expect(out).toMatch(/\| 8 memory, one layer\s+\| 3\s+\| 0 bytes\s+\| 0\s+\| yes\s+\|/);
    expect(out).toMatch(/\| 8 memory, shared input\s+\| 3\s+\| 0 bytes\s+\| 0\s+\| yes\s+\|/);
    expect(out).toContain('3 of 3 claims hold');
  });

  it('audits Table 7 and reproduces the Appendix C figure when run in full', async () => {
    const io = capture();
    expect(await run(['--runs', '1'])).toBe(0);
    expect(io.out()).toMatch(/\| fp16\s+\| 58bsd\+5bhss\s+\| 34bsd\+5bhss\s+\| NO/);
    expect(io.out()).toContain('18.66 GB ≥ 18 GB when each adapted linear keeps its own copy of its input (holds)');
  });

  it('--inject-fault: the claims that detect the fault fail, exit 1, and the summary counts them', async () => {
    const io = capture();
    expect(await run(['--runs', '5', '--only', '8 memory', '--inject-fault', 'leak:1'])).toBe(1);
    expect(io.out()).toContain('Self-test: injecting the fault leak:1; each claim that detects a leak fault of this size must fail');
    expect(io.out()).toContain('0 of 3 claims hold');
    expect(io.out()).toContain('Self-test leak:1: 3 of the 3 claims that detect it failed.');
    // below every claim's threshold nothing is expected to fail
    expect(await run(['--runs', '3', '--only', '1 closed form · f64', '--inject-fault', 'grad:1e-20'])).toBe(0);
    expect(io.out()).toContain('Self-test grad:1e-20: 0 of the 0 claims that detect it failed.');
  });

  it('--inject-fault: exits 1 on every kind of fault at the smallest size a claim detects', async () => {
    const io = capture();
    for (const kind of FAULT_KINDS) {
      const claim = allClaims().find((c) => c.detects?.[kind] !== undefined)!;
      const fault = `${kind}:${claim.detects![kind]}`;
      expect(await run(['--runs', '5', '--only', claim.id, '--inject-fault', fault]), fault).toBe(1);
      expect(io.out()).toContain(`Self-test ${fault}: 1 of the 1 claims that detect it failed.`);
    }
  });

  it('rejects bad options with exit code 2', async () => {
    const io = capture();
    expect(await run(['--runs', '0'])).toBe(2);
    expect(await run(['--bogus', '1'])).toBe(2);
    expect(await run(['--only', 'no such claim'])).toBe(2);
    expect(await run(['--inject-fault', 'bogus'])).toBe(2);
    expect(await run(['--inject-fault', 'leak:0.5'])).toBe(2);
    expect(io.err()).toContain('--runs 0: expected an integer ≥ 1');
    expect(io.err()).toContain("Unknown option '--bogus'");
    expect(io.err()).toContain('--only no such claim: no claim id contains it');
    expect(io.err()).toContain("--inject-fault bogus: fault 'bogus' is not KIND:SIZE (e.g. grad:1e-9)");
    expect(io.err()).toContain('--inject-fault leak:0.5: fault size 0.5 is invalid for leak; expected a whole number of elements ≥ 1');
    expect(await run(['--help'])).toBe(0);
  });
});
