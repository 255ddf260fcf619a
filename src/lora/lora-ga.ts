/**
 * LoRA-GA's first ingredient: the full fine-tuning gradient G = ∂L/∂W [d, o] of each targeted
 * Linear at the start, averaged over a few batches (LoRA-GA's reference code: 64 batches of 2).
 * applyAdapters(model, { method: 'lora', init: 'lora-ga', gradients }) then takes A₀, B₀ from the
 * SVD of each G (svd-init.ts). Memory of this pass: a Full-FT backward of the targeted layers
 * (their inputs N·d and a d×o gradient each), once, before training.
 */
import { scope } from '../autograd/scope.ts';
import { fail } from '../errors.ts';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';
import { findTargets, type Targets } from './targets.ts';

/**
 * G per targeted layer path, in float64 (the mean of ∂L/∂W over `batches` calls of loss(i)):
 * only the targeted weights require grad during the pass; every parameter's requiresGrad and
 * .grad are restored afterwards. Reads the gradients back once (any device).
 */
export async function fullGradients(model: Module, loss: (batch: number) => Tensor, options: { targets?: Targets; batches?: number } = {}): Promise<Record<string, Float64Array>> {
  const batches = options.batches ?? 1;
  if (!Number.isInteger(batches) || batches < 1) fail('fullGradients', `batches = ${batches} is invalid; expected a positive integer`);
  const found = findTargets('fullGradients', model, options.targets);
  const params = model.parameters();
  const saved = params.map((p) => ({ p, requiresGrad: p.requiresGrad, grad: p.grad }));
  for (const p of params) {
    p.requiresGrad = false;
    p.grad = null;
  }
  const out: Record<string, Float64Array> = {};
  try {
    for (const { base } of found) base.weight.requiresGrad = true;
    for (let i = 0; i < batches; i++) {
      scope(() => {
        const l = loss(i);
        if (l.size !== 1) fail('fullGradients', `loss(${i}) has shape [${l.shape.join(', ')}]; expected a scalar`);
        l.backward();
      });
    }
    for (const { base, path } of found) {
      const g = base.weight.grad;
      if (!g) fail('fullGradients', `'${path}' got no gradient: the loss does not depend on it`);
      out[path] = Float64Array.from(await g.data(), (v) => v / batches);
    }
  } finally {
    for (const { base } of found) base.weight.grad?.dispose();
    for (const { p, requiresGrad, grad } of saved) {
      p.requiresGrad = requiresGrad;
      p.grad = grad;
    }
  }
  return out;
}
