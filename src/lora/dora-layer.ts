/**
 * DoRA as a layer wrapping a frozen Linear: y = x·W' + b with W' = V·diag(m/‖V‖_col),
 * V = W + σ·A·B (ops.dora). A random, B zeros and m = ‖W + σ·A·B‖_col at the start (so W' = W);
 * A, B and m (`lora_magnitude_vector` [o], PEFT's name) are trained.
 */
import { noGrad } from '../autograd/grad-mode.ts';
import { add, div, mul, sqrt, sub } from '../autograd/ops/elementwise.ts';
import { sum } from '../autograd/ops/reduce.ts';
import { matmul } from '../autograd/ops/matmul.ts';
import { keep, scope } from '../autograd/scope.ts';
import { fail } from '../errors.ts';
import type { Linear } from '../nn/linear.ts';
import type { Tensor } from '../tensor.ts';
import { dora, doraWeight } from './dora.ts';
import { LoraAdapterLinear, type LoraLayerOptions } from './layers.ts';
import { lora } from './lora-op.ts';

export interface DoraLayerOptions extends LoraLayerOptions {
  /** Treat ‖V‖_col as a constant in backward (PEFT's and the DoRA paper's choice); default false: the exact gradient. */
  detachNorm?: boolean;
}

export class DoraLinear extends LoraAdapterLinear {
  /** The magnitude m [o]. */
  readonly m: Tensor;
  readonly detachNorm: boolean;
  /** While merged: ‖V‖_col at the merge, to undo it. */
  private mergedNorm: Tensor | null = null;

  constructor(base: Linear, options: DoraLayerOptions) {
    if (options?.correction !== undefined || options?.ridge !== undefined) fail('DoraLinear', 'correction and ridge do not apply to DoRA (both factors train with their plain gradients); expected neither');
    // op: the shared spec's; DoRA's forward goes through adapt(), overridden below
    super(base, options, { name: 'DoraLinear', op: lora, initA: 'gaussian', initB: 'zeros', frozen: null, grams: [] });
    const detach = options.detachNorm ?? false;
    if (typeof detach !== 'boolean') fail('DoraLinear', `detachNorm = ${String(detach)} is invalid; expected true or false`);
    this.detachNorm = detach;
    // m = ‖W + σ·A·B‖_col (after an SVD init, W is already the residual)
    const m = noGrad(() => scope(() => {
      const V = add(this.base.weight, mul(matmul(this.A, this.B), this.scale));
      return sqrt(sum(mul(V, V), [0]));
    }));
    this.m = this.registerParameter('lora_magnitude_vector', m);
    this.m.requiresGrad = true;
  }

  /** DoRA's output, then + b in a pass of its own (DoRA rescales X·W's columns, so b cannot ride on that product). */
  protected override adapt(x: Tensor, W: Tensor, bias: Tensor | null, dropout: number): Tensor {
    const y = dora(x, W, this.A, this.B, this.m, { scale: this.scale, dropout, detachNorm: this.detachNorm });
    if (!bias) return y;
    const out = add(y, bias);
    y.dispose(); // not saved by anything: free it now rather than at the end of the caller's scope
    return out;
  }

  protected override adapterTensors(): [string, Tensor][] {
    return [...super.adapterTensors(), ['m', this.m]];
  }

  /** W' = V·diag(m/‖V‖_col). */
  override effectiveWeight(): Tensor {
    if (this.merged) return super.effectiveWeight();
    return noGrad(() => scope(() => {
      const { V, s } = doraWeight(this.base.weight, this.A, this.B, this.m, this.scale);
      return mul(V, s);
    }));
  }

  /**
   * −ΔW' per unit lr: with D = σ·(g_A·B + A·g_B) (−ΔV) and g_m,
   *   D·diag(s) + V·diag(g_m/n) − V·diag(m ⊙ ⟨v_j, D_j⟩ / n³).
   */
  override sgdDirection(): Tensor {
    return noGrad(() => scope(() => {
      const { V, n, s } = doraWeight(this.base.weight, this.A, this.B, this.m, this.scale);
      const hasFactorGrad = this.A.grad || this.B.grad;
      if (!hasFactorGrad && !this.m.grad) fail('DoraLinear', 'sgdDirection(): A, B and m have no gradient; expected a backward first');
      let out = this.m.grad ? mul(V, div(this.m.grad, n)) : null;
      if (hasFactorGrad) {
        const D = super.sgdDirection();
        const along = div(mul(this.m, sum(mul(V, D), [0])), mul(mul(n, n), n)); // m ⊙ ⟨v_j, D_j⟩ / n³
        const fromV = sub(mul(D, s), mul(V, along));
        out = out ? add(out, fromV) : fromV;
      }
      return out!;
    }));
  }

  /** W ← V·diag(m/n), keeping n for unmerge. */
  protected override applyMerge(): void {
    const W = this.base.weight;
    noGrad(() => scope(() => {
      const { V, n, s } = doraWeight(W, this.A, this.B, this.m, this.scale);
      this.mergedNorm = keep(n);
      W.assign(mul(V, s));
    }));
  }

  /** W ← W'·diag(n/m) − σ·A·B with the n of the merge. */
  protected override applyUnmerge(): void {
    const W = this.base.weight;
    noGrad(() => scope(() => void W.assign(sub(mul(W, div(this.mergedNorm!, this.m)), mul(matmul(this.A, this.B), this.scale)))));
    this.mergedNorm!.dispose();
    this.mergedNorm = null;
  }

  override dispose(): void {
    this.mergedNorm?.dispose();
    super.dispose();
  }
}
