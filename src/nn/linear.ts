import { mul, sub } from '../autograd/ops/elementwise.ts';
import { linear } from '../autograd/ops/linear.ts';
import { noGrad } from '../autograd/grad-mode.ts';
import { scope } from '../autograd/scope.ts';
import type { DType, Device } from '../dtype.ts';
import { rand } from '../factories.ts';
import { checkPositiveInt } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { checkFeatures, Module } from './module.ts';

export interface LinearOptions {
  bias?: boolean;
  dtype?: DType;
  device?: Device;
  /** Seed for the initial weights (the global generator otherwise). */
  seed?: number;
}

/** Uniform(−bound, bound) of the given shape as a new leaf (its temporaries freed at once). */
export function uniformInit(shape: number[], bound: number, opts: LinearOptions, seedOffset = 0): Tensor {
  return noGrad(() => scope(() => {
    const u = rand(shape, { dtype: opts.dtype, device: opts.device, seed: opts.seed === undefined ? undefined : (opts.seed + seedOffset) >>> 0 });
    return sub(mul(u, 2 * bound), bound);
  }));
}

/**
 * y = x·W + b with W [d, o] (row-major, our X·W convention; PyTorch stores Wᵀ) and b [o].
 * Initialised as torch.nn.Linear: U(−1/√d, 1/√d) for both.
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    checkPositiveInt('Linear', 'inFeatures', inFeatures);
    checkPositiveInt('Linear', 'outFeatures', outFeatures);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter('weight', uniformInit([inFeatures, outFeatures], bound, options));
    this.weight.requiresGrad = true;
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniformInit([outFeatures], bound, options, 1));
    if (this.bias) this.bias.requiresGrad = true;
  }

  forward(x: Tensor): Tensor {
    checkFeatures('Linear', x, this.inFeatures);
    return linear(x, this.weight, this.bias);
  }
}
