import { noGrad } from '../autograd/grad-mode.ts';
import { add, div, mul, sqrt } from '../autograd/ops/elementwise.ts';
import { sum } from '../autograd/ops/reduce.ts';
import { gt, where } from '../autograd/ops/select.ts';
import { fail } from '../errors.ts';
import type { Tensor } from '../tensor.ts';

/**
 * As torch.nn.utils.clip_grad_norm_: with the total norm n = √(Σ over every gradient of ‖g‖²),
 * scales every gradient in place by min(1, maxNorm/(n + 1e-6)). Computed on the gradients'
 * device without reading back (no synchronisation on WebGPU); returns n as a rank-0 tensor.
 * Parameters without a gradient are skipped; with none at all, n is null.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor | null {
  if (!(maxNorm > 0)) fail('clipGradNorm', `maxNorm = ${maxNorm}; expected a positive number`);
  const grads = [...params].flatMap((p) => (p.grad ? [p.grad] : []));
  if (grads.length === 0) return null;
  return noGrad(() => {
    let total: Tensor | null = null;
    for (const g of grads) {
      const sq = sum(mul(g, g));
      total = total ? add(total, sq) : sq;
    }
    const norm = sqrt(total!);
    const coef = where(gt(norm, maxNorm), div(maxNorm, add(norm, 1e-6)), 1); // rank 0
    for (const g of grads) g.assign(mul(g, coef));
    return norm;
  });
}
