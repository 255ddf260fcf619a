/**
 * LoRA+ (Hayou et al., 2024): B's learning rate is λ times A's; nothing else changes. It is an
 * optimizer grouping, as PEFT's create_loraplus_optimizer builds it: every trainable parameter
 * named lora_B, or of rank 1 (biases, norms, DoRA's magnitude), goes to the group with lr = λ·lr;
 * everything else (lora_A, …) to the group with lr. Pass the groups to an optimizer:
 *   new AdamW(loraPlusGroups(model, { lr, ratio: 16 }), { lr, weightDecay })
 * and a schedule that sets opt.lr keeps the ratio (optim/optimizer.ts).
 */
import { fail } from '../errors.ts';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';

export interface LoraPlusOptions {
  /** λ = lr_B / lr_A (PEFT's loraplus_lr_ratio; the paper suggests 2⁴ = 16). */
  ratio: number;
  /** A's learning rate (pass the same lr as the optimizer's default, so that a schedule setting opt.lr scales both groups). */
  lr: number;
}

/** [{ params: A-like, lr }, { params: B-like, lr: λ·lr }] over the model's trainable parameters (an empty A group left out). */
export function loraPlusGroups(model: Module, options: LoraPlusOptions): { params: Tensor[]; lr: number }[] {
  const { ratio, lr } = options ?? ({} as LoraPlusOptions);
  if (!(typeof ratio === 'number' && Number.isFinite(ratio) && ratio > 0)) fail('loraPlusGroups', `ratio = ${String(ratio)} is invalid; expected a finite λ > 0 (LoRA+ suggests λ ≥ 1, e.g. 16)`);
  if (!(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0)) fail('loraPlusGroups', `lr = ${String(lr)} is invalid; expected a finite number ≥ 0`);
  const trainable = model.namedParameters().filter(([, p]) => p.requiresGrad);
  if (trainable.length === 0) fail('loraPlusGroups', 'the model has no trainable parameter; expected adapters (applyAdapters) first');
  const isB = ([name, p]: [string, Tensor]) => name.split('.').pop() === 'lora_B' || p.rank === 1;
  const a = trainable.filter((e) => !isB(e)).map(([, p]) => p), b = trainable.filter(isB).map(([, p]) => p);
  if (b.length === 0) fail('loraPlusGroups', `no trainable lora_B (or 1-D) parameter among ${trainable.map(([n]) => n).join(', ')}; LoRA+ scales B's learning rate`);
  return [...(a.length ? [{ params: a, lr }] : []), { params: b, lr: ratio * lr }];
}
