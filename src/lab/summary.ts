/**
 * The lab's results over seeds: per entry, each metric as mean ± sd over the K seeds; between
 * entries, the differences the report states, paired over seeds (statistics.ts) — never an
 * ordering the intervals do not support.
 */
import type { MethodResult } from './fine-tune.ts';
import type { PlanEntry } from './plan.ts';
import { mean, pairedDifference, sd, type PairedDifference } from './statistics.ts';

/** One entry's runs, one per seed in seed order. */
export interface EntryRuns extends PlanEntry {
  lr: number;
  runs: MethodResult[];
}

export interface Spread {
  mean: number;
  sd: number;
}

/** mean ± sd of a metric over an entry's seeds (NaN values, e.g. an unmeasured cosine, left out). */
export function spread(e: EntryRuns, metric: (r: MethodResult) => number | null): Spread {
  const xs = e.runs.map(metric).filter((x): x is number => x !== null && !Number.isNaN(x));
  return { mean: xs.length ? mean(xs) : NaN, sd: sd(xs) };
}

export type Metric = 'valLoss' | 'cosSgd' | 'cosAdamw';

export const METRICS: Record<Metric, { name: string; better: 'lower' | 'higher' }> = {
  valLoss: { name: 'validation loss', better: 'lower' },
  cosSgd: { name: 'cos(−ΔW_SGD, G)', better: 'higher' },
  cosAdamw: { name: 'cos(−ΔW_AdamW, G)', better: 'higher' },
};

export interface Comparison {
  a: string;
  b: string;
  metric: Metric;
  difference: PairedDifference;
}

/** The pairs the report compares, among the entries present: LoRA-FA against LoRA, its uncorrected self and (matched) LoRA; every entry against Full-FT. */
export function comparisonPairs(entries: readonly EntryRuns[]): [EntryRuns, EntryRuns, Metric[]][] {
  const by = new Map(entries.map((e) => [e.key, e]));
  const pairs: [EntryRuns, EntryRuns, Metric[]][] = [];
  const add = (a: string, b: string, metrics: Metric[]) => {
    const ea = by.get(a), eb = by.get(b);
    if (ea && eb) pairs.push([ea, eb, metrics]);
  };
  add('lorafa', 'lora', ['valLoss']);
  add('lorafa', 'lorafa-nc', ['valLoss', 'cosSgd', 'cosAdamw']);
  for (const e of entries) if (e.key.includes('@')) add(e.key, 'lora', ['valLoss']); // matched parameter counts
  for (const e of entries) if (e.key !== 'full') add(e.key, 'full', ['valLoss']);
  return pairs;
}

/** The paired differences of every compared pair, on the seeds both ran. */
export function comparisons(entries: readonly EntryRuns[]): Comparison[] {
  return comparisonPairs(entries).flatMap(([a, b, metrics]) => metrics.flatMap((metric) => {
    const k = Math.min(a.runs.length, b.runs.length);
    const xs = a.runs.slice(0, k).map((r) => r[metric]), ys = b.runs.slice(0, k).map((r) => r[metric]);
    if (k === 0 || xs.some((x) => x === null) || ys.some((y) => y === null)) return [];
    return [{ a: a.label, b: b.label, metric, difference: pairedDifference(xs as number[], ys as number[]) }];
  }));
}

const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;

/** One sentence per comparison: the difference with its interval, and what it supports. */
export function comparisonSentence(c: Comparison): string {
  const d = c.difference, { name, better } = METRICS[c.metric];
  const head = `${name}, ${c.a} − ${c.b}: ${signed(d.mean)}`;
  if (!d.interval) return `${head} (one seed: no interval, no ordering)`;
  const range = `95% interval [${signed(d.interval[0])}, ${signed(d.interval[1])}] over ${d.seeds} seeds`;
  if (d.verdict === 'none') return `${head}, ${range}: no detectable difference`;
  const aBetter = (d.verdict === 'lower') === (better === 'lower');
  return `${head}, ${range}: ${c.a} ${d.verdict} (${aBetter ? 'better' : 'worse'})`;
}
