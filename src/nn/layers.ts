import { gelu, mul } from '../autograd/ops/elementwise.ts';
import { dropout, embedding, layerNorm } from '../autograd/ops/nn.ts';
import { noGrad } from '../autograd/grad-mode.ts';
import { scope } from '../autograd/scope.ts';
import type { DType, Device } from '../dtype.ts';
import { describe, fail } from '../errors.ts';
import { ones, randn, zeros } from '../factories.ts';
import { checkPositiveInt } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { Linear } from './linear.ts';
import { checkFeatures, Module } from './module.ts';

/** Options every layer shares; `seed` makes the initial weights reproducible. */
export interface LayerOptions {
  dtype?: DType;
  device?: Device;
  seed?: number;
}

/**
 * Applies fns in turn and frees each intermediate handle as soon as the next step has used
 * it, t included, as reference counting frees PyTorch's intermediates: a tensor that autograd
 * saved lives on in its saved alias, everything else is freed at once instead of at the end
 * of the enclosing scope. Pass only tensors the caller created (never a forward's input).
 */
export function pipe(t: Tensor, ...fns: ((t: Tensor) => Tensor)[]): Tensor {
  for (const f of fns) {
    const y = f(t);
    if (y !== t) t.dispose();
    t = y;
  }
  return t;
}

/** A distinct seed for the k-th sub-layer of a layer seeded with `seed` (undefined stays undefined). */
export function subSeed(seed: number | undefined, k: number): number | undefined {
  return seed === undefined ? undefined : (seed + 7919 * (k + 1)) >>> 0;
}

/** y[..., :] = weight[idx[...], :]: a table of V rows of width D, initialised N(0, std²) (GPT-2: std 0.02). */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(readonly numEmbeddings: number, readonly dim: number, options: LayerOptions & { std?: number } = {}) {
    super();
    checkPositiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    checkPositiveInt('Embedding', 'dim', dim);
    const std = options.std ?? 0.02;
    const w = noGrad(() => scope(() => mul(randn([numEmbeddings, dim], { dtype: options.dtype, device: options.device, seed: options.seed }), std)));
    this.weight = this.registerParameter('weight', w);
    this.weight.requiresGrad = true;
  }

  /** idx: int32 of any shape → [...idx.shape, D]. */
  forward(idx: Tensor): Tensor {
    if (idx.dtype !== 'int32') fail('Embedding', `${describe('indices', idx)} must be int32`);
    return embedding(this.weight, idx);
  }
}

/** y = (x − μ)/√(σ² + eps)·γ + β over the last axis, γ = 1 and β = 0 initially. */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly eps: number;

  constructor(readonly dim: number, options: LayerOptions & { eps?: number } = {}) {
    super();
    checkPositiveInt('LayerNorm', 'dim', dim);
    this.eps = options.eps ?? 1e-5;
    this.weight = this.registerParameter('weight', ones([dim], { dtype: options.dtype, device: options.device }));
    this.bias = this.registerParameter('bias', zeros([dim], { dtype: options.dtype, device: options.device }));
    this.weight.requiresGrad = this.bias.requiresGrad = true;
  }

  forward(x: Tensor): Tensor {
    checkFeatures('LayerNorm', x, this.dim);
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** y = down(GELU(up(x))), up: d → hidden, down: hidden → d (hidden = 4d in GPT-2), then dropout. */
export class MLP extends Module {
  readonly up: Linear;
  readonly down: Linear;

  constructor(readonly dim: number, readonly hidden: number, readonly dropout = 0, options: LayerOptions = {}) {
    super();
    checkPositiveInt('MLP', 'dim', dim);
    checkPositiveInt('MLP', 'hidden', hidden);
    this.up = this.registerModule('up', new Linear(dim, hidden, { ...options, seed: subSeed(options.seed, 0) }));
    this.down = this.registerModule('down', new Linear(hidden, dim, { ...options, seed: subSeed(options.seed, 1) }));
  }

  forward(x: Tensor): Tensor {
    // [.., hidden]; GELU saves its input, down saves GELU's output
    return pipe(this.up.forward(x), (h) => gelu(h), (h) => this.down.forward(h), (y) => dropout(y, this.dropout, { training: this.training }));
  }
}

/** Children '0', '1', ... applied in order; `list[i]` is the i-th (registered under its index, like its property). */
export class Sequential<M extends Module = Module> extends Module {
  [index: number]: M;

  constructor(modules: M[]) {
    super();
    modules.forEach((m, i) => (this[i] = this.registerModule(String(i), m)));
  }

  get length(): number {
    return this.namedChildren().length;
  }

  forward(x: Tensor): Tensor {
    let t = x;
    for (let i = 0; i < this.length; i++) {
      const y = (this[i]!.forward as (x: Tensor) => Tensor)(t);
      if (t !== x && y !== t) t.dispose(); // an output of the previous child, now used
      t = y;
    }
    return t;
  }
}
