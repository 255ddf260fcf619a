/** Optimizers, gradient clipping and learning-rate schedules (the `optim` namespace of the public API). */
export { Optimizer, type ParamGroup, type ParamGroupSpec, type Params } from './optimizer.ts';
export { AdamW, type AdamWOptions, type AdamWHyper } from './adamw.ts';
export { SGD, type SgdOptions, type SgdHyper } from './sgd.ts';
export { clipGradNorm } from './clip.ts';
export { warmupCosine, type WarmupCosineOptions } from './schedule.ts';
