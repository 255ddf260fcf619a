import { keep } from '../autograd/scope.ts';
import { fail } from '../errors.ts';
import { zeros } from '../factories.ts';
import type { Tensor } from '../tensor.ts';
import { checkNonNegative, Optimizer, type Params } from './optimizer.ts';

/** SGD's hyper-parameters: the defaults of every group, and what a group may override. */
export interface SgdHyper {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

export type SgdOptions = Partial<SgdHyper>;

/**
 * SGD as torch.optim.SGD (dampening 0), per parameter with its group's hyper-parameters:
 *   d = g + λp;  buf ← μ·buf + d (buf = d on the first step);  d ← nesterov ? d + μ·buf : buf;  p ← p − lr·d.
 * State: one momentum buffer per parameter of a group with μ > 0, none otherwise, in the
 * parameter's dtype (float16/bfloat16 too, updated in float32 and rounded back once, as AdamW).
 * `new SGD(params, options)`, or parameter groups: `new SGD([{ params, lr }, …], options)`.
 */
export class SGD extends Optimizer<SgdHyper> {
  /** The defaults (groups may override them: see paramGroups). */
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private readonly buffers = new Map<Tensor, Tensor>();

  constructor(params: Params<SgdHyper>, options: SgdOptions = {}) {
    const defaults: SgdHyper = { lr: options.lr ?? 1e-2, momentum: options.momentum ?? 0, weightDecay: options.weightDecay ?? 0, nesterov: options.nesterov ?? false };
    super('SGD', params, defaults, (g, where) => {
      if (!(g.momentum >= 0 && g.momentum < 1)) fail('SGD', `${where}momentum = ${g.momentum}; expected 0 ≤ momentum < 1`);
      if (g.nesterov && g.momentum === 0) fail('SGD', `${where}nesterov needs momentum > 0`);
      checkNonNegative('SGD', `${where}weightDecay`, g.weightDecay);
    });
    ({ momentum: this.momentum, weightDecay: this.weightDecay, nesterov: this.nesterov } = defaults);
  }

  step(): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (!p.grad) continue;
        let buf: Tensor | null = null;
        if (group.momentum > 0) {
          buf = this.buffers.get(p) ?? keep(zeros(p.shape, { dtype: p.dtype, device: p.device }));
          this.buffers.set(p, buf);
        }
        p.backend.kernels.sgdStep(p.storage, p.grad.storage, buf?.storage ?? null, {
          lr: group.lr, momentum: group.momentum, weightDecay: group.weightDecay, nesterov: group.nesterov,
        });
        p.markModified();
      }
    }
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
