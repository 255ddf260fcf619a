import { fail } from '../errors.ts';
import type { Tensor } from '../tensor.ts';

/**
 * Base of the optimizers: holds the parameters it updates and a learning rate that a schedule
 * may change between steps. step() updates every parameter that has a gradient, in place
 * through the backend's fused kernel, then bumps its version (caches keyed on it, such as
 * LoRA-FA's factor of AᵀA, see the change).
 */
export abstract class Optimizer {
  readonly params: Tensor[];

  constructor(op: string, params: Iterable<Tensor>, public lr: number) {
    this.params = [...params];
    if (!(lr >= 0)) fail(op, `lr = ${lr}; expected a non-negative number`);
    const bad = this.params.find((p) => !p.requiresGrad || (p.dtype !== 'float32' && p.dtype !== 'float64'));
    if (bad) fail(op, `parameter '${bad.name || '(unnamed)'}' (${bad.dtype}, requiresGrad ${bad.requiresGrad}) cannot be optimized; expected float tensors that require grad`);
  }

  /** Updates every parameter whose .grad is set (others are skipped, as in PyTorch). */
  abstract step(): void;

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
}

/** Throws unless value is a finite number ≥ 0 (eps, weight decay). */
export function checkNonNegative(op: string, name: string, value: number): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) fail(op, `${name} = ${String(value)}; expected a finite number ≥ 0`);
}
