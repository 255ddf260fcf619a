/**
 * applyAdapters(model, { method, … }): PEFT's get_peft_model for every method lorafa implements.
 * The option set follows what each method changes (docs/peft.md):
 *   an op/layer    method: 'lora' | 'lorafa' | 'lorafb' | 'lorapro' | 'dora' | 'vera'
 *   the scale      rslora: true (σ = α/√r; rsLoRA)
 *   the init       init: 'gaussian' | 'uniform' | 'orthogonal' (the random factor), 'pissa', or
 *                  'lora-ga' with gradients (fullGradients in lora-ga.ts)
 *   the optimizer  LoRA+ is parameter groups: loraPlusGroups(model, { lr, ratio }) (loraplus.ts)
 */
import { fail } from '../errors.ts';
import type { Module } from '../nn/module.ts';
import type { AdapterLayer } from './adapter-layer.ts';
import { DoraLinear } from './dora-layer.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear, LoraProLinear, type LoraInit, type LoraLayerOptions } from './layers.ts';
import type { LoraGaOptions } from './svd-init.ts';
import { DEFAULT_TARGETS, findTargets, type Targets } from './targets.ts';
import { VeraLinear, VeraProjections } from './vera-layer.ts';

export { DEFAULT_TARGETS, maxAdapterRank } from './targets.ts';

export type AdapterMethod = 'lora' | 'lorafa' | 'lorafb' | 'lorapro' | 'dora' | 'vera';
export const ADAPTER_METHODS: readonly AdapterMethod[] = ['lora', 'lorafa', 'lorafb', 'lorapro', 'dora', 'vera'];

export type AdapterInit = Exclude<LoraInit, 'zeros'> | 'pissa' | 'lora-ga';

export interface AdapterOptions {
  method: AdapterMethod;
  rank: number;
  /** α; σ = α/r (α/√r with rslora). Required, except for VeRA, which has no scale and refuses it. */
  alpha?: number;
  /** Drop probability of each adapter's input while training (default 0). */
  dropout?: number;
  /**
   * Which Linear layers to adapt: names of the layer itself (the last part of its path, e.g.
   * ['q', 'v']), or a RegExp tested on the whole dotted path (e.g. /^blocks\.0\.attn\./).
   * Default: every q, k, v, o, up and down.
   */
  targets?: Targets;
  /**
   * A random init of the random factor (A for LoRA, LoRA-FA, LoRA-Pro and DoRA, B for LoRA-FB; the
   * other starts at zero), or an SVD init that sets both and rewrites W to W − σ·A·B: 'pissa'
   * (top-r SVD of W) or 'lora-ga' (SVD of each layer's full gradient, from `gradients`). Not for VeRA.
   */
  init?: AdapterInit;
  /** init 'lora-ga': G [d, o] per adapted layer's path, row-major (fullGradients). */
  gradients?: Readonly<Record<string, ArrayLike<number>>>;
  /** init 'lora-ga': the scale of A₀, B₀ ('gd' default, or 'stable' with γ). */
  loraGa?: LoraGaOptions;
  /** rsLoRA: σ = α/√r. */
  rslora?: boolean;
  /** LoRA-FA / LoRA-FB: 'closed-form' (default) projected gradient, or 'none'. */
  correction?: 'closed-form' | 'none';
  /** LoRA-FA / LoRA-FB / LoRA-Pro: λ ≥ 0 added to the Gram matrices before factoring (default 0; LoRA-Pro 1e-8). */
  ridge?: number;
  /** DoRA: treat the column norm as a constant in backward (PEFT's choice; default false). */
  detachNorm?: boolean;
  /** VeRA: initial value of each d (default 0.1). */
  dInitial?: number;
  /** Seed of the factors (layer i gets seed + i; VeRA's shared A and B get seed). The global generator when absent. */
  seed?: number;
}

export interface AdapterReport {
  /** Dotted paths of the Linear layers replaced, in model order. */
  replaced: string[];
  /** Parameter elements that require grad after the injection (the adapters' trained tensors). */
  trainable: number;
  /** All parameter elements, frozen base included (VeRA's shared A and B are buffers, not counted). */
  total: number;
}

type LayerClass = new (base: ConstructorParameters<typeof LoraLinear>[0], options: LoraLayerOptions) => AdapterLayer;
const LAYERS: Record<Exclude<AdapterMethod, 'vera'>, LayerClass> = {
  lora: LoraLinear, lorafa: LoraFaLinear, lorafb: LoraFbLinear, lorapro: LoraProLinear, dora: DoraLinear,
};

/** Options that only some methods take: [option, the methods that take it]. */
const ONLY: [keyof AdapterOptions, readonly AdapterMethod[]][] = [
  ['correction', ['lorafa', 'lorafb']],
  ['ridge', ['lorafa', 'lorafb', 'lorapro']],
  ['detachNorm', ['dora']],
  ['dInitial', ['vera']],
  ['alpha', ['lora', 'lorafa', 'lorafb', 'lorapro', 'dora']],
  ['rslora', ['lora', 'lorafa', 'lorafb', 'lorapro', 'dora']],
  ['init', ['lora', 'lorafa', 'lorafb', 'lorapro', 'dora']],
];

function checkOptions(options: AdapterOptions): void {
  const op = 'applyAdapters';
  if (typeof options !== 'object' || options === null) fail(op, 'expected options { method, rank, alpha, ... }');
  const { method } = options;
  if (!ADAPTER_METHODS.includes(method)) fail(op, `method '${String(method)}' is unknown; expected one of ${ADAPTER_METHODS.join(', ')}`);
  for (const [key, methods] of ONLY) {
    if (options[key] !== undefined && !methods.includes(method)) fail(op, `option ${key} does not apply to method '${method}'; it is for ${methods.join(', ')}`);
  }
  if (method !== 'vera' && options.alpha === undefined) fail(op, `method '${method}' needs alpha (σ = α/r)`);
  if ((options.init === 'lora-ga') !== (options.gradients !== undefined)) fail(op, "init 'lora-ga' and gradients go together: pass gradients (from fullGradients) with init 'lora-ga', and only then");
  if (options.loraGa !== undefined && options.init !== 'lora-ga') fail(op, "option loraGa is for init 'lora-ga'");
}

/**
 * Injects adapters in place, as PEFT's get_peft_model: every targeted Linear becomes an adapter
 * layer wrapping it (same child name, so module paths and measureSaved attribution keep
 * working), and every other parameter of the model is frozen. Returns what changed.
 */
export function applyAdapters(model: Module, options: AdapterOptions): AdapterReport {
  checkOptions(options);
  const { method, targets = DEFAULT_TARGETS, init } = options;
  const found = findTargets('applyAdapters', model, targets);
  if (init === 'lora-ga') {
    const missing = found.filter((f) => !Object.hasOwn(options.gradients!, f.path)).map((f) => f.path);
    if (missing.length) fail('applyAdapters', `init 'lora-ga' has no gradient for ${missing.join(', ')}; expected gradients for every adapted layer (fullGradients(model, loss, { targets }))`);
  }
  model.freeze();
  const projections = method === 'vera'
    ? new VeraProjections(options.rank, Math.max(...found.map((f) => f.base.inFeatures)), Math.max(...found.map((f) => f.base.outFeatures)),
      { seed: options.seed, dtype: found[0]!.base.weight.dtype, device: found[0]!.base.weight.device })
    : null;
  try {
    found.forEach(({ parent, name, base, path }, i) => {
      const layer = projections
        ? new VeraLinear(base, projections, { dInitial: options.dInitial, dropout: options.dropout })
        : new LAYERS[method as Exclude<AdapterMethod, 'vera'>](base, layerOptions(options, path, i));
      parent.replaceModule(name, layer);
    });
  } finally {
    projections?.dispose(); // the layers hold their own handles on the shared storage
  }
  return { replaced: found.map((f) => f.path), trainable: model.numParameters({ trainable: true }), total: model.numParameters() };
}

/** The layer options of adapted layer i (at path) from applyAdapters' options. */
function layerOptions(options: AdapterOptions, path: string, i: number): LoraLayerOptions {
  const { method, init } = options;
  const svdInit = init === 'pissa' ? 'pissa' as const : init === 'lora-ga' ? { ...options.loraGa, gradient: options.gradients![path]! } : undefined;
  const random = init && !svdInit ? (method === 'lorafb' ? { initB: init as LoraInit } : { initA: init as LoraInit }) : {};
  const extra = method === 'dora' ? { detachNorm: options.detachNorm } : {};
  return {
    rank: options.rank,
    alpha: options.alpha!,
    dropout: options.dropout,
    rslora: options.rslora,
    correction: options.correction,
    ridge: options.ridge,
    seed: options.seed === undefined ? undefined : (options.seed + i) >>> 0,
    ...(svdInit ? { svdInit } : random),
    ...extra,
  };
}
