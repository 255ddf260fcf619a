import type { Linear } from '../nn/linear.ts';
import { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';

/**
 * What every adapter layer (the LoRA family, DoRA, VeRA) offers beyond forward: it wraps a
 * frozen Linear `base` (y = x·W + b, W [d, o]) and can say, in weight space, what it computes
 * and how a step moves it — so a diagnostic (the lab's cos(−ΔW, G)) treats every method alike.
 */
export abstract class AdapterLayer extends Module {
  abstract readonly base: Linear;

  /** y = x·W_eff + b for x [..., d]. */
  abstract override forward(x: Tensor): Tensor;

  /** The weight the layer computes with, W_eff [d, o] (y = x·W_eff + b), a new tensor. */
  abstract effectiveWeight(): Tensor;

  /**
   * −ΔW_eff per unit learning rate of one plain SGD step on the current gradients, to first
   * order [d, o] (the Jacobian of W_eff applied to the trained parameters' .grad), a new tensor.
   */
  abstract sgdDirection(): Tensor;

  /** Readies caches that need a read-back (WebGPU) before the next forward; a no-op where none is needed. */
  abstract prepare(): Promise<void>;
}
