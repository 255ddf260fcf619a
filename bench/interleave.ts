/**
 * Timing contenders side by side in one process: after `warmup` untimed calls each, every round
 * times one call of each, the order rotating from round to round (A B C, B C A, …), so a change
 * of load on a shared machine hits every column alike.
 */
export interface Call {
  run(): void;
  dispose(): void;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q), h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** Median ms per call (null where there is no call); `rounds` is given the slowest warm-up call's ms. Disposes the calls. */
export function interleaved(calls: (Call | null)[], warmup: number, rounds: (slowestMs: number) => number): (number | null)[] {
  let slowest = 0;
  for (const call of calls) {
    const t0 = performance.now();
    for (let i = 0; i < warmup; i++) call?.run();
    slowest = Math.max(slowest, (performance.now() - t0) / warmup);
  }
  const n = rounds(slowest), ms = calls.map(() => [] as number[]);
  for (let round = 0; round < n; round++) {
    for (let j = 0; j < calls.length; j++) {
      const i = (round + j) % calls.length, call = calls[i];
      if (!call) continue;
      const t0 = performance.now();
      call.run();
      ms[i]!.push(performance.now() - t0);
    }
  }
  calls.forEach((call) => call?.dispose());
  return ms.map((xs) => (xs.length ? median(xs) : null));
}
