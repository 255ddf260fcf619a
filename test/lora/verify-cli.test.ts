/** `npm run verify`: the table, the memory audit, the exit codes. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/verify.ts';

function capture(): { out: () => string; err: () => string } {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  return { out: () => log.mock.calls.map((c) => c.join(' ')).join('\n'), err: () => error.mock.calls.map((c) => c.join(' ')).join('\n') };
}

afterEach(() => vi.restoreAllMocks());

describe('lorafa verify', () => {
  it('prints claim | cases | max error | tolerance | holds and exits 0 when every claim holds', async () => {
    const io = capture();
    expect(await run(['--runs', '3', '--only', 'memory'])).toBe(0);
    const out = io.out();
    expect(out).toContain('| claim                | cases | max error | tolerance | holds |');
    expect(out).toMatch(/\| 8 memory, one layer\s+\| 3\s+\| 0 bytes\s+\| 0\s+\| yes\s+\|/);
    expect(out).toContain('2 of 2 claims hold');
  });

  it('audits Table 7 and reproduces the Appendix C figure when run in full', async () => {
    const io = capture();
    expect(await run(['--runs', '1'])).toBe(0);
    expect(io.out()).toMatch(/\| fp16\s+\| 58bsd\+5bhss\s+\| 34bsd\+5bhss\s+\| NO/);
    expect(io.out()).toContain('18.66 GB ≥ 18 GB when each adapted linear keeps its own copy of its input (holds)');
  });

  it('rejects bad options with exit code 2', async () => {
    const io = capture();
    expect(await run(['--runs', '0'])).toBe(2);
    expect(await run(['--bogus', '1'])).toBe(2);
    expect(await run(['--only', 'no such claim'])).toBe(2);
    expect(io.err()).toContain('--runs 0: expected an integer ≥ 1');
    expect(io.err()).toContain("Unknown option '--bogus'");
    expect(io.err()).toContain('--only no such claim: no claim id contains it');
    expect(await run(['--help'])).toBe(0);
  });
});
