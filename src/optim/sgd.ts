import { keep } from '../autograd/scope.ts';
import { fail } from '../errors.ts';
import { zeros } from '../factories.ts';
import type { Tensor } from '../tensor.ts';
import { checkNonNegative, Optimizer } from './optimizer.ts';

export interface SgdOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/**
 * SGD as torch.optim.SGD (dampening 0):
 *   d = g + λp;  buf ← μ·buf + d (buf = d on the first step);  d ← nesterov ? d + μ·buf : buf;  p ← p − lr·d.
 * State: one momentum buffer per parameter when μ > 0, none otherwise.
 */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private readonly buffers = new Map<Tensor, Tensor>();

  constructor(params: Iterable<Tensor>, options: SgdOptions = {}) {
    super('SGD', params, options.lr ?? 1e-2);
    this.momentum = options.momentum ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (!(this.momentum >= 0 && this.momentum < 1)) fail('SGD', `momentum = ${this.momentum}; expected 0 ≤ momentum < 1`);
    if (this.nesterov && this.momentum === 0) fail('SGD', 'nesterov needs momentum > 0');
    checkNonNegative('SGD', 'weightDecay', this.weightDecay);
  }

  step(): void {
    for (const p of this.params) {
      if (!p.grad) continue;
      let buf: Tensor | null = null;
      if (this.momentum > 0) {
        buf = this.buffers.get(p) ?? keep(zeros(p.shape, { dtype: p.dtype, device: p.device }));
        this.buffers.set(p, buf);
      }
      p.backend.kernels.sgdStep(p.storage, p.grad.storage, buf?.storage ?? null, {
        lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay, nesterov: this.nesterov,
      });
      p.markModified();
    }
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
