import { expect } from 'vitest';
import { LorafaError } from '../../src/index.ts';

/** Asserts fn throws a LorafaError of op (message "op: ...") whose message contains or matches every part. */
export function expectError(fn: () => unknown, op: string, ...parts: (string | RegExp)[]): void {
  let error: unknown = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${op} to throw`).toBeInstanceOf(LorafaError);
  const e = error as LorafaError;
  expect(e.op).toBe(op);
  expect(e.message.startsWith(`${op}: `), e.message).toBe(true);
  for (const p of parts) expect(e.message).toMatch(p);
}
