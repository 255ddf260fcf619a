/**
 * The lab's statistics over seeds: mean and sample standard deviation of a metric, and paired
 * differences between two methods run on the same seeds (the same batches and initial adapters),
 * with a 95% Student-t interval:
 *   dᵢ = aᵢ − bᵢ,  d̄ = Σdᵢ/K,  s = √(Σ(dᵢ − d̄)²/(K − 1)),  d̄ ± t₀.₉₇₅,K−1 · s/√K
 * An interval that contains 0 is "no detectable difference": no ordering is claimed from it.
 */
import { fail } from '../errors.ts';

/** Two-sided 95% Student-t quantiles t₀.₉₇₅ for 1 … 30 degrees of freedom (more: the normal 1.960). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t₀.₉₇₅ with df degrees of freedom (df ≥ 1). */
export function t975(df: number): number {
  if (!(Number.isInteger(df) && df >= 1)) fail('t975', `df = ${df}; expected a positive integer`);
  return T975[df - 1] ?? 1.96;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (K − 1 in the denominator); 0 for a single value. */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

export interface PairedDifference {
  /** d̄, the mean of aᵢ − bᵢ. */
  mean: number;
  /** The 95% interval [low, high]; null with one seed (no spread to estimate). */
  interval: [number, number] | null;
  /** 'higher' or 'lower' (a relative to b) when the interval excludes 0, else 'none'. */
  verdict: 'higher' | 'lower' | 'none';
  seeds: number;
}

/** a − b paired over seeds (a[i] and b[i] from seed i), with its 95% interval. */
export function pairedDifference(a: readonly number[], b: readonly number[]): PairedDifference {
  if (a.length !== b.length || a.length === 0) fail('pairedDifference', `${a.length} and ${b.length} values; expected one per seed on each side`);
  const d = a.map((x, i) => x - b[i]!);
  const m = mean(d);
  if (d.length < 2) return { mean: m, interval: null, verdict: 'none', seeds: 1 };
  const half = (t975(d.length - 1) * sd(d)) / Math.sqrt(d.length);
  const interval: [number, number] = [m - half, m + half];
  const verdict = interval[0] > 0 ? 'higher' : interval[1] < 0 ? 'lower' : 'none';
  return { mean: m, interval, verdict, seeds: d.length };
}
