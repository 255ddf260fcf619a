/**
 * How a hostile case is judged: it must end in a clear error — a LorafaError (or a command-line
 * UsageError) whose message starts with the op or option it names — or in a result that an
 * independent check confirms. Anything else (a TypeError or RangeError from inside, a wrong
 * value, a crash) fails the property. Every verdict is tallied per suite for the summary CI prints.
 */
import { expect } from 'vitest';
import { LorafaError } from '../../src/index.ts';

export const tally = new Map<string, { clear: number; correct: number }>();

function count(suite: string, verdict: 'clear' | 'correct'): void {
  const t = tally.get(suite) ?? { clear: 0, correct: 0 };
  t[verdict]++;
  tally.set(suite, t);
}

/**
 * Runs one case of `suite`: run() either throws a LorafaError of one of `ops` (message
 * "op: …") — clear — or returns a result that check() accepts — correct.
 */
export function judge<T>(suite: string, ops: readonly string[], run: () => T, check: (result: T) => void): void {
  let result: T;
  try {
    result = run();
  } catch (e) {
    if (!(e instanceof LorafaError)) throw e; // an internal error escaped: the property fails on it
    expect(ops, `error from an unexpected op: ${e.message}`).toContain(e.op);
    expect(e.message.startsWith(`${e.op}: `)).toBe(true);
    count(suite, 'clear');
    return;
  }
  check(result);
  count(suite, 'correct');
}

/** judge() for async runs. */
export async function judgeAsync<T>(suite: string, ops: readonly string[], run: () => Promise<T>, check: (result: T) => void | Promise<void>): Promise<void> {
  let result: T;
  try {
    result = await run();
  } catch (e) {
    if (!(e instanceof LorafaError)) throw e;
    expect(ops, `error from an unexpected op: ${e.message}`).toContain(e.op);
    count(suite, 'clear');
    return;
  }
  await check(result);
  count(suite, 'correct');
}

/** Counts a verdict reached some other way (a command's exit code and output). */
export function record(suite: string, verdict: 'clear' | 'correct'): void {
  count(suite, verdict);
}

/** The summary line per suite, and the total. */
export function summary(): string {
  const lines = [...tally].map(([suite, t]) => `  ${suite.padEnd(28)} ${String(t.clear + t.correct).padStart(5)} cases: ${t.clear} clear errors, ${t.correct} correct results`);
  const all = [...tally.values()].reduce((a, t) => a + t.clear + t.correct, 0);
  return `hostile inputs: ${all} cases tried, every one a clear error or a correct result\n${lines.join('\n')}`;
}
