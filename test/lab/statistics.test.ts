import { describe, expect, it } from 'vitest';
import type { MethodResult } from '../../src/lab/fine-tune.ts';
import { mean, pairedDifference, sd, t975 } from '../../src/lab/statistics.ts';
import { comparisons, comparisonSentence, spread, type EntryRuns } from '../../src/lab/summary.ts';

describe('paired differences over seeds', () => {
  it('match hand-computed values: d = [0.5, 1, 1] has mean 5/6, sd √(1/12), interval 5/6 ± 4.303·√(1/12)/√3', () => {
    const r = pairedDifference([1, 2, 3], [0.5, 1, 2]);
    expect(r.mean).toBeCloseTo(0.833333333, 9);
    expect(r.interval![0]).toBeCloseTo(0.833333333 - 0.717166667, 8);
    expect(r.interval![1]).toBeCloseTo(0.833333333 + 0.717166667, 8);
    expect(r.verdict).toBe('higher');
  });

  it('say "no detectable difference" when the interval contains 0: d = [0.1, −0.2, 0.05, 0]', () => {
    const r = pairedDifference([1.1, 0.8, 1.05, 1], [1, 1, 1, 1]);
    expect(r.mean).toBeCloseTo(-0.0125, 12);
    expect(r.interval![0]).toBeCloseTo(-0.0125 - (3.182 * 0.1314978) / 2, 6);
    expect(r.interval![1]).toBeCloseTo(-0.0125 + (3.182 * 0.1314978) / 2, 6);
    expect(r.verdict).toBe('none');
    expect(pairedDifference([1, 2], [2, 3.1]).verdict).toBe('lower'); // d = [−1, −1.1]: sd 0.0707, t₁ = 12.706
  });

  it('claim nothing from one seed, and refuse unpaired lists', () => {
    expect(pairedDifference([1], [0])).toEqual({ mean: 1, interval: null, verdict: 'none', seeds: 1 });
    expect(() => pairedDifference([1, 2], [1])).toThrow('pairedDifference: 2 and 1 values; expected one per seed on each side');
  });

  it('mean, sample sd and the t quantiles', () => {
    expect(mean([1, 2, 6])).toBe(3);
    expect(sd([1, 2, 6])).toBeCloseTo(Math.sqrt(7), 12);
    expect(sd([4])).toBe(0);
    expect([t975(1), t975(4), t975(30), t975(200)]).toEqual([12.706, 2.776, 2.042, 1.96]);
    expect(() => t975(0)).toThrow(/t975: df = 0/);
  });
});

describe('the comparisons the lab report states', () => {
  const run = (valLoss: number, cosSgd: number | null = null) => ({ valLoss, cosSgd, cosAdamw: cosSgd }) as unknown as MethodResult;
  const entry = (key: string, label: string, vals: number[], cos?: number[]): EntryRuns =>
    ({ key, label, method: key.split('@')[0], rank: 8, alpha: 16, lr: 0.01, runs: vals.map((v, i) => run(v, cos ? cos[i]! : null)) }) as EntryRuns;

  it('pair LoRA-FA with LoRA and its uncorrected self, matched-rank runs with LoRA, every method with Full-FT', () => {
    const entries = [
      entry('full', 'Full-FT', [1, 1.1]), entry('lora', 'LoRA', [1.2, 1.3]), entry('lorafa', 'LoRA-FA', [1.3, 1.35], [0.5, 0.6]),
      entry('lorafa@16', 'LoRA-FA (r = 16)', [1.25, 1.3]), entry('lorafa-nc', 'LoRA-FA (no correction)', [1.31, 1.36], [0.4, 0.45]),
    ];
    expect(comparisons(entries).map((c) => `${c.a} − ${c.b} ${c.metric}`)).toEqual([
      'LoRA-FA − LoRA valLoss', 'LoRA-FA − LoRA-FA (no correction) valLoss', 'LoRA-FA − LoRA-FA (no correction) cosSgd', 'LoRA-FA − LoRA-FA (no correction) cosAdamw',
      'LoRA-FA (r = 16) − LoRA valLoss', 'LoRA − Full-FT valLoss', 'LoRA-FA − Full-FT valLoss', 'LoRA-FA (r = 16) − Full-FT valLoss', 'LoRA-FA (no correction) − Full-FT valLoss',
    ]);
  });

  it('state an ordering only when the interval excludes 0, with better/worse by the metric\'s direction', () => {
    const [lower] = comparisons([entry('lorafa', 'LoRA-FA', [1, 2, 3]), entry('lora', 'LoRA', [1.5, 2.6, 3.4])]);
    expect(comparisonSentence(lower!)).toMatch(/^validation loss, LoRA-FA − LoRA: −0\.5000, 95% interval \[−0\.7484, −0\.2516\] over 3 seeds: LoRA-FA lower \(better\)$/);
    const higherCos = comparisons([entry('lorafa', 'LoRA-FA', [1, 1], [0.5, 0.6]), entry('lorafa-nc', 'x', [1, 1], [0.4, 0.49])]).find((c) => c.metric === 'cosSgd')!;
    expect(comparisonSentence(higherCos)).toMatch(/: LoRA-FA higher \(better\)$/);
    const none = comparisons([entry('lorafa', 'LoRA-FA', [1, 2]), entry('lora', 'LoRA', [1.1, 1.9])])[0]!;
    expect(comparisonSentence(none)).toMatch(/over 2 seeds: no detectable difference$/);
    const one = comparisons([entry('lorafa', 'LoRA-FA', [1]), entry('lora', 'LoRA', [1.1])])[0]!;
    expect(comparisonSentence(one)).toBe('validation loss, LoRA-FA − LoRA: −0.1000 (one seed: no interval, no ordering)');
  });

  it('mean ± sd per entry leaves unmeasured values out', () => {
    expect(spread(entry('lora', 'LoRA', [1, 2, 6]), (r) => r.valLoss)).toEqual({ mean: 3, sd: Math.sqrt(7) });
    expect(spread(entry('lora', 'LoRA', [1, 2]), (r) => r.cosSgd).mean).toBeNaN();
  });
});
