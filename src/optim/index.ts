/** Optimizers, gradient clipping and learning-rate schedules (the `optim` namespace of the public API). */
export { Optimizer } from './optimizer.ts';
export { AdamW, type AdamWOptions } from './adamw.ts';
export { SGD, type SgdOptions } from './sgd.ts';
export { clipGradNorm } from './clip.ts';
export { warmupCosine, type WarmupCosineOptions } from './schedule.ts';
