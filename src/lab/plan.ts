/**
 * What a lab run trains: one entry per method — plus, with --match-params, LoRA-FA and LoRA-FB at
 * twice the rank (and twice α, so σ = α/r stays), which trains as many parameters as LoRA at r
 * (the paper's Table 3 comparison) — each on the same K seeds. A seed fixes the batches and the
 * adapters' initial values, the same for every method.
 */
import { LAB_METHODS, type LabMethod } from './fine-tune.ts';

export interface PlanEntry {
  /** Unique within the run: the method key, or '<method>@<rank>' for a matched-parameter run. */
  key: string;
  method: LabMethod;
  label: string;
  rank: number;
  alpha: number;
}

/** The entries for methods at (rank, α), with the matched-parameter ones after their equal-rank sibling. */
export function planEntries(methods: readonly LabMethod[], rank: number, alpha: number, matchParams: boolean): PlanEntry[] {
  return methods.flatMap((method) => {
    const { label } = LAB_METHODS[method];
    const entry = { key: method, method, label, rank, alpha };
    if (!matchParams || (method !== 'lorafa' && method !== 'lorafb')) return [entry];
    return [entry, { key: `${method}@${2 * rank}`, method, label: `${label} (r = ${2 * rank})`, rank: 2 * rank, alpha: 2 * alpha }];
  });
}

/** The K seeds of a run: seed, seed + 1, … (mod 2³²). */
export function seedsFrom(seed: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (seed + i) >>> 0);
}

/** --lr-sweep's grid around a learning rate: ⅓×, 1× and 3×. */
export function lrGrid(lr: number): number[] {
  return [lr / 3, lr, lr * 3];
}
