import { fail } from '../errors.ts';

export interface WarmupCosineOptions {
  /** Peak learning rate, reached at the end of warm-up. */
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Floor the cosine decays to (default 0). */
  minLr?: number;
}

/**
 * Linear warm-up then cosine decay; step t counts from 0:
 *   t < W:       lr·(t + 1)/W
 *   W ≤ t < T:   minLr + (lr − minLr)·½·(1 + cos(π·(t − W)/(T − W)))
 *   t ≥ T:       minLr
 */
export function warmupCosine(options: WarmupCosineOptions): (step: number) => number {
  const { lr, warmupSteps: W, totalSteps: T } = options;
  const minLr = options.minLr ?? 0;
  if (!(Number.isInteger(W) && Number.isInteger(T) && W >= 0 && T > W)) {
    fail('warmupCosine', `warmupSteps ${W} and totalSteps ${T} do not fit; expected integers with 0 ≤ warmupSteps < totalSteps`);
  }
  if (!(Number.isFinite(lr) && lr >= minLr && minLr >= 0)) fail('warmupCosine', `lr ${lr} and minLr ${minLr}; expected finite lr ≥ minLr ≥ 0`);
  return (t: number): number => {
    if (t < W) return (lr * (t + 1)) / W;
    if (t >= T) return minLr;
    return minLr + (lr - minLr) * 0.5 * (1 + Math.cos((Math.PI * (t - W)) / (T - W)));
  };
}
