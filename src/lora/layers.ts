/**
 * LoRA-family layers wrapping a frozen Linear (y = x·W + b, W [d, o]):
 *   y = x·W + σ·(dropout(x)·A)·B + b,   A [d, r], B [r, o], σ = α / r.
 *
 *   layer          trained   frozen    op            trainable parameters   saved per call
 *   LoraLinear     A, B      W, b      ops.lora      r·(d + o)              N·(d + r)
 *   LoraFaLinear   B         W, b, A   ops.loraFA    r·o                    N·r
 *   LoraFbLinear   A         W, b, B   ops.loraFB    d·r                    N·d
 *   LoraProLinear  A, B      W, b      ops.loraPro   r·(d + o)              N·(d + r)
 *   DoraLinear     A, B, m   W, b      ops.dora      r·(d + o) + o          N·(d + r + o)   (dora-layer.ts)
 * (VeRA, whose frozen A and B are shared across layers, is VeraLinear in vera-layer.ts.)
 *
 * σ = α/r, or α/√r with `rslora` (rsLoRA). `svdInit` replaces the random init: 'pissa' takes A
 * and B from the top-r SVD of W, { gradient } (LoRA-GA) from the SVD of the first batch's full
 * gradient; both rewrite W to W − σ·A·B (svd-init.ts) and keep A₀, B₀ (`initial`), from which
 * a PEFT export rebuilds the update on the original W.
 *
 * Names (PEFT-like): the wrapped layer is the child module `base` (`base.weight`, `base.bias`),
 * the factors are the parameters `lora_A` [d, r] and `lora_B` [r, o] (also `layer.A`, `layer.B`).
 * Our layout is row-major x·W: PEFT's `lora_A.weight` is our Aᵀ and `lora_B.weight` our Bᵀ.
 *
 * Init (see init.ts): the frozen or first factor is random with unit expected vector
 * norms ('gaussian' default, 'uniform', 'orthogonal'), the other is zeros so that ΔW = σ·A·B = 0
 * at the start. LoRA and LoRA-FA: A random, B zeros. LoRA-FB: B is frozen and must have full
 * row rank (BBᵀ invertible), so B is random ('gaussian' default) and A zeros.
 *
 * The frozen factor's Cholesky factor is put in the factor cache right at construction, from
 * the host values it was initialised from, so no device read-back is needed; after changing it
 * in place on WebGPU, call `await layer.prepare()`. Dropout is applied only when `training`.
 */
import { noGrad } from '../autograd/grad-mode.ts';
import { add, mul } from '../autograd/ops/elementwise.ts';
import { linear } from '../autograd/ops/linear.ts';
import { matmul } from '../autograd/ops/matmul.ts';
import { scope } from '../autograd/scope.ts';
import { typedArrayFor } from '../dtype.ts';
import { decodeHalfArray, encodeHalfArray, isHalf } from '../half-float.ts';
import { describe, describeValue, fail } from '../errors.ts';
import { tensor } from '../factories.ts';
import { Linear } from '../nn/linear.ts';
import { checkFeatures } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';
import { AdapterLayer } from './adapter-layer.ts';
import { adapterScale, checkAdapterOptions, type LoraBiasOption, type LoraFrozenOptions } from './common.ts';
import { prepareLoraFactor, primeLoraFactor, releaseLoraFactor } from './factor-cache.ts';
import { loraFA, loraFB } from './frozen-ops.ts';
import type { GramSide } from './gram.ts';
import { initFactor, LORA_INITS, randomStream, type LoraInit } from './init.ts';
import { lora } from './lora-op.ts';
import { loraPro } from './lora-pro.ts';
import { loraGaFactors, pissaFactors, residualWeight, type Factors, type LoraGaOptions } from './svd-init.ts';

export type { LoraInit } from './init.ts';

export interface LoraLayerOptions {
  /** r, with 1 ≤ r ≤ min(d, o). */
  rank: number;
  /** α; the adapter is scaled by σ = α / r. */
  alpha: number;
  /** Drop probability of the adapter's input while training (default 0). */
  dropout?: number;
  initA?: LoraInit;
  initB?: LoraInit;
  /** Seed of the initial factors (the global generator otherwise). Dropout masks use the global generator. */
  seed?: number;
  /** LoRA-FA / LoRA-FB: 'closed-form' (default) projected gradient, or 'none'. */
  correction?: 'closed-form' | 'none';
  /** LoRA-FA / LoRA-FB: λ ≥ 0 added to AᵀA (BBᵀ) before factoring; default 0 (LoRA-Pro: to both, default 1e-8). */
  ridge?: number;
  /** rsLoRA: σ = α/√r instead of α/r (PEFT's use_rslora). */
  rslora?: boolean;
  /**
   * Initialise A and B from an SVD and rewrite W to W − σ·A·B (instead of initA/initB):
   * 'pissa' (the top-r SVD of W), or LoRA-GA's { gradient: G [d, o] host values, scale?, gamma? }.
   * Needs W's values on the host (a CPU tensor).
   */
  svdInit?: 'pissa' | LoraGaInit;
}

/** LoRA-GA's init of one layer: the full gradient G [d, o] of its weight on the first batch(es), row-major. */
export interface LoraGaInit extends LoraGaOptions {
  gradient: ArrayLike<number>;
}

type AdapterOp = (x: Tensor, W: Tensor, A: Tensor, B: Tensor, options: LoraFrozenOptions & LoraBiasOption) => Tensor;

export interface Spec {
  name: string;
  op: AdapterOp;
  initA: LoraInit;
  initB: LoraInit;
  /** The frozen factor whose Gram matrix is factored, if any. */
  frozen: 'A' | 'B' | null;
  /** The factors whose Gram matrices the op factors: the frozen one, or both (LoRA-Pro). */
  grams: readonly ('A' | 'B')[];
}

/** The shared machinery of the LoRA-type layers; each subclass fixes which factor trains. */
export abstract class LoraAdapterLinear extends AdapterLayer {
  readonly base: Linear;
  readonly A: Tensor;
  readonly B: Tensor;
  readonly rank: number;
  readonly alpha: number;
  /** σ = α / r (α/√r with rsLoRA). */
  readonly scale: number;
  readonly rslora: boolean;
  readonly dropout: number;
  readonly correction: 'closed-form' | 'none';
  readonly ridge: number;
  /** How A and B were initialised: 'random' (initA/initB), or an SVD init that rewrote W. */
  readonly init: 'random' | 'pissa' | 'lora-ga';
  /** A₀ [d, r] and B₀ [r, o] of an SVD init (the update on the original W is σ·(A·B − A₀·B₀)); null for a random init. */
  readonly initial: Factors | null = null;
  /** While merged: the storage versions of the adapter's tensors that the merge was computed from. */
  private mergedFrom: number[] | null = null;

  protected constructor(base: Linear, options: LoraLayerOptions, protected readonly spec: Spec) {
    super();
    const op = spec.name;
    if (!(base instanceof Linear)) fail(op, `expected a Linear layer to wrap, got ${describeValue(base)}`);
    if (typeof options !== 'object' || options === null) fail(op, 'expected options { rank, alpha, ... }');
    const { rank, alpha } = options;
    const [d, o] = base.weight.shape as [number, number];
    if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(d, o)) {
      fail(op, `rank = ${rank} is out of range for ${describe('W', base.weight)}; expected an integer 1 ≤ r ≤ min(d, o) = ${Math.min(d, o)}`);
    }
    const rslora = options.rslora ?? false;
    if (typeof rslora !== 'boolean') fail(op, `rslora = ${String(rslora)} is invalid; expected true or false`);
    if (!(typeof alpha === 'number' && Number.isFinite(alpha) && adapterScale(alpha, rank, rslora) !== 0)) {
      fail(op, `alpha = ${String(alpha)} is invalid; expected a finite number with σ = ${rslora ? 'α / √r' : 'α / r'} ≠ 0 (r = ${rank})`);
    }
    const { dropout, correction, ridge } = checkAdapterOptions(op, options);
    this.rank = rank;
    this.alpha = alpha;
    this.rslora = rslora;
    this.scale = adapterScale(alpha, rank, rslora);
    this.dropout = dropout;
    this.correction = correction;
    this.ridge = ridge;

    this.base = this.registerModule('base', base);
    base.freeze();
    let values: Factors;
    if (options.svdInit !== undefined) {
      if (options.initA !== undefined || options.initB !== undefined) fail(op, 'svdInit sets both A and B; expected no initA or initB with it');
      this.init = options.svdInit === 'pissa' ? 'pissa' : 'lora-ga';
      values = this.svdFactors(options.svdInit, d, o);
    } else {
      this.init = 'random';
      const initA = options.initA ?? spec.initA, initB = options.initB ?? spec.initB;
      for (const [name, init] of [['initA', initA], ['initB', initB]] as const) {
        if (!LORA_INITS.includes(init)) fail(op, `${name} = '${String(init)}' is unknown; expected one of ${LORA_INITS.join(', ')}`);
      }
      if (spec.frozen === 'A' && initA === 'zeros') fail(op, "initA = 'zeros' leaves AᵀA singular; the frozen A needs full column rank ('gaussian', 'uniform' or 'orthogonal')");
      if (spec.frozen === 'B' && initB === 'zeros') fail(op, "initB = 'zeros' leaves BBᵀ singular; the frozen B needs full row rank ('gaussian', 'uniform' or 'orthogonal')");
      const stream = randomStream(op, options.seed);
      values = { A: initFactor(op, initA, d, rank, 'columns', stream), B: initFactor(op, initB, rank, o, 'rows', stream) };
    }
    const A = this.factor('lora_A', values.A, [d, rank], spec.frozen !== 'A', 'columns');
    const B = this.factor('lora_B', values.B, [rank, o], spec.frozen !== 'B', 'rows');
    this.A = A.tensor;
    this.B = B.tensor;
    if (this.init !== 'random') {
      // W ← W − σ·A₀·B₀ from the stored (rounded) A₀ and B₀, so that the output is unchanged
      this.initial = { A: Float64Array.from(A.stored), B: Float64Array.from(B.stored) };
      const W = base.weight;
      const res = residualWeight(W.dataSync(), this.initial.A, this.initial.B, d, o, rank, this.scale);
      noGrad(() => scope(() => void W.assign(tensor(res, { shape: [d, o], dtype: W.dtype, device: W.device }))));
    }
  }

  /** A₀, B₀ of an SVD init, from W's host values (PiSSA) or the given gradient (LoRA-GA). */
  private svdFactors(init: 'pissa' | LoraGaInit, d: number, o: number): Factors {
    const op = this.spec.name, W = this.base.weight;
    if (!W.backend.readSync) {
      fail(op, `svdInit needs the host values of ${describe('W', W)}, and a ${W.device} tensor cannot be read synchronously; ` +
        'apply the adapters to the model on the CPU');
    }
    if (init === 'pissa') return pissaFactors(op, W.dataSync(), d, o, this.rank, this.scale);
    if (typeof init !== 'object' || init === null || !init.gradient) fail(op, `svdInit = ${String(init)} is invalid; expected 'pissa' or LoRA-GA's { gradient, scale?, gamma? }`);
    return loraGaFactors(op, init.gradient, d, o, this.rank, this.scale, init);
  }

  /** Registers a factor on W's device and dtype; a frozen one gets its Cholesky factor cached from the host values. */
  private factor(name: string, values: Float64Array, shape: [number, number], trained: boolean, side: GramSide): { tensor: Tensor; stored: ArrayLike<number> } {
    const W = this.base.weight;
    // rounded to W's dtype: the factor must be that of the stored matrix (16-bit: stored as bits, the values decoded)
    const dtype = W.dtype;
    const bits = isHalf(dtype) ? encodeHalfArray(dtype, values) : null;
    const stored = bits && isHalf(dtype) ? decodeHalfArray(dtype, bits) : typedArrayFor(dtype, values.length);
    if (!bits) stored.set(values);
    const t = this.registerParameter(name, tensor(bits ?? stored, { shape, dtype, device: W.device }));
    t.requiresGrad = trained;
    if (!trained && this.correction === 'closed-form') primeLoraFactor(this.spec.name, t, side, this.ridge, stored);
    return { tensor: t, stored };
  }

  get merged(): boolean {
    return this.mergedFrom !== null;
  }

  forward(x: Tensor): Tensor {
    checkFeatures(this.spec.name, x, this.base.inFeatures);
    const { weight: W, bias } = this.base;
    if (this.mergedFrom) return linear(x, W, bias);
    return this.adapt(x, W, bias, this.training ? this.dropout : 0);
  }

  /** The op of the layer on x, the bias added by its X·W product (no pass of its own). */
  protected adapt(x: Tensor, W: Tensor, bias: Tensor | null, dropout: number): Tensor {
    return this.spec.op(x, W, this.A, this.B, { scale: this.scale, dropout, correction: this.correction, ridge: this.ridge, bias });
  }

  /** The adapter's own tensors by name, whose versions merge() records. */
  protected adapterTensors(): [string, Tensor][] {
    return [['A', this.A], ['B', this.B]];
  }

  /** W_eff = W + σ·A·B [d, o], a new tensor (W itself while merged). */
  effectiveWeight(): Tensor {
    const W = this.base.weight;
    return noGrad(() => (this.mergedFrom ? add(W, 0) : add(W, mul(matmul(this.A, this.B), this.scale))));
  }

  /** σ·(g_A·B + A·g_B) [d, o] from the trained factors' current gradients (a missing one counts as 0). */
  sgdDirection(): Tensor {
    return noGrad(() => {
      const { A, B } = this;
      const terms = [A.grad && matmul(A.grad, B), B.grad && matmul(A, B.grad)].filter((t): t is Tensor => t !== null);
      if (terms.length === 0) fail(this.spec.name, 'sgdDirection(): neither A nor B has a gradient; expected a backward first');
      return mul(terms.length === 2 ? add(terms[0]!, terms[1]!) : terms[0]!, this.scale);
    });
  }

  /**
   * Folds the adapter into the base weight in place: W ← W + σ·A·B (W's version is bumped).
   * Records the versions of A and B it used, so that unmerge() can check it subtracts the same σ·A·B.
   */
  merge(): void {
    if (this.mergedFrom) fail(this.spec.name, 'merge(): the adapter is already merged into W');
    this.applyMerge();
    this.mergedFrom = this.adapterTensors().map(([, t]) => t.version);
  }

  /** W ← W + σ·A·B. */
  protected applyMerge(): void {
    this.addToWeight(this.scale);
  }

  /** W ← W − σ·A·B. */
  protected applyUnmerge(): void {
    this.addToWeight(-this.scale);
  }

  /**
   * Undoes merge(): W ← W − σ·A·B, to within rounding (one rounding of W + σAB and one of the
   * difference: exact to a few ulps of W in float32 and float64). Refused, leaving W as it is,
   * when A or B changed in place since merge(): the current σ·A·B is not what was added, and
   * subtracting it would silently corrupt W.
   */
  unmerge(): void {
    const from = this.mergedFrom;
    if (!from) fail(this.spec.name, 'unmerge(): the adapter is not merged');
    const changed = this.adapterTensors().flatMap(([n, t], i) => (t.version === from[i] ? [] : [`${describe(n, t)} changed in place since merge() (version ${from[i]} → ${t.version})`]));
    if (changed.length) {
      fail(this.spec.name, `unmerge(): ${changed.join(' and ')}; ` +
        'subtracting the current σ·A·B would not restore W (restoring the old values still bumps the version); reload the base weights instead');
    }
    this.applyUnmerge();
    this.mergedFrom = null;
  }

  private addToWeight(s: number): void {
    const W = this.base.weight;
    noGrad(() => scope(() => void W.assign(add(W, mul(matmul(this.A, this.B), s)))));
  }

  /**
   * Caches the Cholesky factor of the frozen factor's Gram matrix, reading it back once if it
   * changed since (needed on WebGPU after an in-place change; a no-op when the cache is warm).
   */
  async prepare(): Promise<void> {
    if (this.correction !== 'closed-form') return;
    for (const name of this.spec.grams) {
      await prepareLoraFactor(this[name], name === 'A' ? 'columns' : 'rows', { ridge: this.ridge });
    }
  }

  /** Frees the cached Cholesky factors, then the parameters (the base's included). */
  override dispose(): void {
    for (const name of this.spec.grams) releaseLoraFactor(this[name]);
    super.dispose();
  }
}

/** LoRA: A and B trained (A random, B zeros). */
export class LoraLinear extends LoraAdapterLinear {
  constructor(base: Linear, options: LoraLayerOptions) {
    super(base, options, { name: 'LoraLinear', op: lora, initA: 'gaussian', initB: 'zeros', frozen: null, grams: [] });
  }
}

/** LoRA-FA: A frozen (random), B trained (zeros) with the closed-form projected gradient; saves only XA. */
export class LoraFaLinear extends LoraAdapterLinear {
  constructor(base: Linear, options: LoraLayerOptions) {
    super(base, options, { name: 'LoraFaLinear', op: loraFA, initA: 'gaussian', initB: 'zeros', frozen: 'A', grams: ['A'] });
  }
}

/** LoRA-FB: B frozen (random, full row rank), A trained (zeros) with the projected gradient from the right. */
export class LoraFbLinear extends LoraAdapterLinear {
  constructor(base: Linear, options: LoraLayerOptions) {
    super(base, options, { name: 'LoraFbLinear', op: loraFB, initA: 'zeros', initB: 'gaussian', frozen: 'B', grams: ['B'] });
  }
}

/**
 * LoRA-Pro: A and B trained (A random, B zeros) with the adjusted gradients of ops.loraPro, whose
 * equivalent update is P_A·G + G·P_B − P_A·G·P_B. Both Gram matrices get λ = ridge (default 1e-8,
 * as LoRA-Pro's code: BBᵀ = 0 at the start). `correction` does not apply. On WebGPU, call
 * `await layer.prepare()` before each forward: A and B change every step. A B of rank < r after
 * some step (say, a first step on a gradient of rank < r) makes BBᵀ + λI ill-conditioned, which
 * the op refuses, naming the condition estimate: raise the ridge then.
 */
export class LoraProLinear extends LoraAdapterLinear {
  constructor(base: Linear, options: LoraLayerOptions) {
    if (options?.correction !== undefined) fail('LoraProLinear', `correction = '${String(options.correction)}' does not apply: LoRA-Pro always adjusts both gradients; expected no correction option`);
    super(base, { ...options, ridge: options?.ridge ?? 1e-8 }, { name: 'LoraProLinear', op: loraPro, initA: 'gaussian', initB: 'zeros', frozen: null, grams: ['A', 'B'] });
  }
}
