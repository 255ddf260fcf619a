/**
 * The training precisions the lab, calc and bench:memory run in, and what each means for the
 * engine: the dtype weights (and activations, gradients, AdamW moments) are stored in, and the
 * autocast dtype forward runs under (src/autograd/autocast.ts).
 *   fp32           everything float32
 *   bf16, fp16     pure 16-bit: weights, activations, gradients and AdamW moments in the 16-bit
 *                  dtype (statistics the ops keep — LayerNorm mean/rstd, cross entropy's lse — stay float32)
 *   autocast-bf16  float32 weights, gradients and moments; matmul-like ops in bfloat16, softmax,
 *                  LayerNorm and the loss in float32 (the paper's "autocast BF16")
 */
import type { AutocastDtype } from '../autograd/autocast.ts';
import type { DType } from '../dtype.ts';

export type TrainingPrecision = 'fp32' | 'bf16' | 'fp16' | 'autocast-bf16';
export const TRAINING_PRECISIONS: readonly TrainingPrecision[] = ['fp32', 'bf16', 'fp16', 'autocast-bf16'];

export const PRECISION_DTYPES: Record<TrainingPrecision, { weights: DType; autocast: AutocastDtype | null }> = {
  fp32: { weights: 'float32', autocast: null },
  bf16: { weights: 'bfloat16', autocast: null },
  fp16: { weights: 'float16', autocast: null },
  'autocast-bf16': { weights: 'float32', autocast: 'bfloat16' },
};
