import { keep } from '../autograd/scope.ts';
import { fail } from '../errors.ts';
import { zeros } from '../factories.ts';
import type { Tensor } from '../tensor.ts';
import { checkNonNegative, Optimizer, type Params } from './optimizer.ts';

/** AdamW's hyper-parameters: the defaults of every group, and what a group may override. */
export interface AdamWHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  /** Decoupled weight decay λ (torch.optim.AdamW's default is 0.01). */
  weightDecay: number;
}

export type AdamWOptions = Partial<AdamWHyper>;

/**
 * AdamW (Loshchilov & Hutter), step by step as torch.optim.AdamW, per parameter with its own
 * step t and its group's hyper-parameters:
 *   p ← p·(1 − lr·λ);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
 *   p ← p − lr·m̂/(√v̂ + ε),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).
 * State: m and v, one tensor each per parameter (2 floats per trainable element), in the
 * parameter's dtype — for float16/bfloat16 parameters too, as torch.optim.AdamW keeps them for a
 * pure-bf16 model: each step widens p, g, m and v to float32, updates in float32 and rounds p, m
 * and v back once (half-precision.ts).
 * `new AdamW(params, options)`, or parameter groups: `new AdamW([{ params, lr }, …], options)`.
 */
export class AdamW extends Optimizer<AdamWHyper> {
  /** The defaults (groups may override them: see paramGroups). */
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly state = new Map<Tensor, { m: Tensor; v: Tensor; step: number }>();

  constructor(params: Params<AdamWHyper>, options: AdamWOptions = {}) {
    const defaults: AdamWHyper = { lr: options.lr ?? 1e-3, betas: options.betas ?? [0.9, 0.999], eps: options.eps ?? 1e-8, weightDecay: options.weightDecay ?? 0.01 };
    super('AdamW', params, defaults, (g, where) => {
      const [b1, b2] = Array.isArray(g.betas) ? g.betas : [NaN, NaN];
      if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) fail('AdamW', `${where}betas [${b1}, ${b2}] are out of range; expected each in [0, 1)`);
      checkNonNegative('AdamW', `${where}eps`, g.eps);
      checkNonNegative('AdamW', `${where}weightDecay`, g.weightDecay);
    });
    ({ betas: this.betas, eps: this.eps, weightDecay: this.weightDecay } = defaults);
  }

  step(): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (!p.grad) continue;
        let s = this.state.get(p);
        if (!s) {
          const like = { dtype: p.dtype, device: p.device };
          s = { m: keep(zeros(p.shape, like)), v: keep(zeros(p.shape, like)), step: 0 };
          this.state.set(p, s);
        }
        s.step++;
        p.backend.kernels.adamwStep(p.storage, p.grad.storage, s.m.storage, s.v.storage, {
          lr: group.lr, beta1: group.betas[0], beta2: group.betas[1], eps: group.eps, weightDecay: group.weightDecay, step: s.step,
        });
        p.markModified();
      }
    }
  }

  /** Bytes of optimizer state held (m and v of every parameter stepped so far). */
  stateBytes(): number {
    let n = 0;
    for (const { m, v } of this.state.values()) n += m.storage.bytes + v.storage.bytes;
    return n;
  }

  /** Frees the moment buffers. */
  dispose(): void {
    for (const { m, v } of this.state.values()) {
      m.dispose();
      v.dispose();
    }
    this.state.clear();
  }
}
