import { expect } from 'vitest';
import type { NestedArray, Tensor } from '../../src/index.ts';

/** Max |a − b| over elements; NaN in exactly one side counts as Infinity. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (!(Number.isNaN(x) && Number.isNaN(y))) return Infinity;
      continue;
    }
    if (x === y) continue; // also equal infinities
    m = Math.max(m, Math.abs(x - y));
  }
  return m;
}

/** Asserts |a − b| ≤ atol + rtol·|b| elementwise, with a message showing the worst element. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, { atol = 1e-9, rtol = 1e-7 } = {}): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      expect(Number.isNaN(a), `element ${i}: got ${a}, expected ${e}`).toBe(Number.isNaN(e));
      continue;
    }
    if (a === e) continue;
    const ok = Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) expect.fail(`element ${i}: got ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > atol ${atol} + rtol ${rtol}·|expected|)`);
  }
}

export async function expectTensorClose(t: Tensor, expected: ArrayLike<number>, tol?: { atol?: number; rtol?: number }): Promise<void> {
  expectClose(await t.data(), expected, tol);
}

export function flatten(a: NestedArray): number[] {
  return Array.isArray(a) ? a.flatMap(flatten) : [a];
}
