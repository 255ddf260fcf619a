/**
 * LoRA-family layers wrapping a frozen Linear (y = x·W + b, W [d, o]):
 *   y = x·W + σ·(dropout(x)·A)·B + b,   A [d, r], B [r, o], σ = α / r.
 *
 *   layer          trained   frozen    op            trainable parameters   saved per call
 *   LoraLinear     A, B      W, b      ops.lora      r·(d + o)              N·(d + r)
 *   LoraFaLinear   B         W, b, A   ops.loraFA    r·o                    N·r
 *   LoraFbLinear   A         W, b, B   ops.loraFB    d·r                    N·d
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
import { describe, describeValue, fail } from '../errors.ts';
import { tensor } from '../factories.ts';
import { Linear } from '../nn/linear.ts';
import { checkFeatures, Module } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';
import { checkAdapterOptions, type LoraFrozenOptions } from './common.ts';
import { prepareLoraFactor, primeLoraFactor, releaseLoraFactor } from './factor-cache.ts';
import { loraFA, loraFB } from './frozen-ops.ts';
import type { GramSide } from './gram.ts';
import { initFactor, LORA_INITS, randomStream, type LoraInit } from './init.ts';
import { lora } from './lora-op.ts';

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
  /** LoRA-FA / LoRA-FB: λ ≥ 0 added to AᵀA (BBᵀ) before factoring; default 0. */
  ridge?: number;
}

type AdapterOp = (x: Tensor, W: Tensor, A: Tensor, B: Tensor, options: LoraFrozenOptions) => Tensor;

interface Spec {
  name: string;
  op: AdapterOp;
  initA: LoraInit;
  initB: LoraInit;
  /** The frozen factor whose Gram matrix is factored, if any. */
  frozen: 'A' | 'B' | null;
}

/** The shared machinery of the three layers; each subclass fixes which factor trains. */
export abstract class LoraAdapterLinear extends Module {
  readonly base: Linear;
  readonly A: Tensor;
  readonly B: Tensor;
  readonly rank: number;
  readonly alpha: number;
  /** σ = α / r. */
  readonly scale: number;
  readonly dropout: number;
  readonly correction: 'closed-form' | 'none';
  readonly ridge: number;
  /** While merged: the storage versions of A and B that σ·A·B was computed from. */
  private mergedFrom: { A: number; B: number } | null = null;

  protected constructor(base: Linear, options: LoraLayerOptions, private readonly spec: Spec) {
    super();
    const op = spec.name;
    if (!(base instanceof Linear)) fail(op, `expected a Linear layer to wrap, got ${describeValue(base)}`);
    if (typeof options !== 'object' || options === null) fail(op, 'expected options { rank, alpha, ... }');
    const { rank, alpha } = options;
    const [d, o] = base.weight.shape as [number, number];
    if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(d, o)) {
      fail(op, `rank = ${rank} is out of range for ${describe('W', base.weight)}; expected an integer 1 ≤ r ≤ min(d, o) = ${Math.min(d, o)}`);
    }
    if (!(typeof alpha === 'number' && Number.isFinite(alpha) && alpha / rank !== 0)) {
      fail(op, `alpha = ${String(alpha)} is invalid; expected a finite number with σ = α / r ≠ 0 (r = ${rank})`);
    }
    const { dropout, correction, ridge } = checkAdapterOptions(op, options);
    this.rank = rank;
    this.alpha = alpha;
    this.scale = alpha / rank;
    this.dropout = dropout;
    this.correction = correction;
    this.ridge = ridge;

    this.base = this.registerModule('base', base);
    base.freeze();
    const initA = options.initA ?? spec.initA, initB = options.initB ?? spec.initB;
    for (const [name, init] of [['initA', initA], ['initB', initB]] as const) {
      if (!LORA_INITS.includes(init)) fail(op, `${name} = '${String(init)}' is unknown; expected one of ${LORA_INITS.join(', ')}`);
    }
    if (spec.frozen === 'A' && initA === 'zeros') fail(op, "initA = 'zeros' leaves AᵀA singular; the frozen A needs full column rank ('gaussian', 'uniform' or 'orthogonal')");
    if (spec.frozen === 'B' && initB === 'zeros') fail(op, "initB = 'zeros' leaves BBᵀ singular; the frozen B needs full row rank ('gaussian', 'uniform' or 'orthogonal')");
    const stream = randomStream(op, options.seed);
    this.A = this.factor('lora_A', initFactor(op, initA, d, rank, 'columns', stream), [d, rank], spec.frozen !== 'A', 'columns');
    this.B = this.factor('lora_B', initFactor(op, initB, rank, o, 'rows', stream), [rank, o], spec.frozen !== 'B', 'rows');
  }

  /** Registers a factor on W's device and dtype; a frozen one gets its Cholesky factor cached from the host values. */
  private factor(name: string, values: Float64Array, shape: [number, number], trained: boolean, side: GramSide): Tensor {
    const W = this.base.weight;
    const stored = typedArrayFor(W.dtype, values.length);
    stored.set(values); // rounded to W's dtype: the factor must be that of the stored matrix
    const t = this.registerParameter(name, tensor(stored, { shape, dtype: W.dtype, device: W.device }));
    t.requiresGrad = trained;
    if (!trained && this.correction === 'closed-form') primeLoraFactor(this.spec.name, t, side, this.ridge, stored);
    return t;
  }

  get merged(): boolean {
    return this.mergedFrom !== null;
  }

  forward(x: Tensor): Tensor {
    checkFeatures(this.spec.name, x, this.base.inFeatures);
    const { weight: W, bias } = this.base;
    if (this.mergedFrom) return linear(x, W, bias);
    const y = this.spec.op(x, W, this.A, this.B, {
      scale: this.scale,
      dropout: this.training ? this.dropout : 0,
      correction: this.correction,
      ridge: this.ridge,
    });
    if (!bias) return y;
    const out = add(y, bias);
    y.dispose(); // not saved by anything: free it now rather than at the end of the caller's scope
    return out;
  }

  /**
   * Folds the adapter into the base weight in place: W ← W + σ·A·B (W's version is bumped).
   * Records the versions of A and B it used, so that unmerge() can check it subtracts the same σ·A·B.
   */
  merge(): void {
    if (this.mergedFrom) fail(this.spec.name, 'merge(): the adapter is already merged into W');
    this.addToWeight(this.scale);
    this.mergedFrom = { A: this.A.version, B: this.B.version };
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
    const changed = (['A', 'B'] as const).filter((n) => this[n].version !== from[n]);
    if (changed.length) {
      fail(this.spec.name, `unmerge(): ${changed.map((n) => `${describe(n, this[n])} changed in place since merge() (version ${from[n]} → ${this[n].version})`).join(' and ')}; ` +
        'subtracting the current σ·A·B would not restore W (restoring the old values still bumps the version); reload the base weights instead');
    }
    this.addToWeight(-this.scale);
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
    if (this.correction !== 'closed-form' || !this.spec.frozen) return;
    const [t, side] = this.spec.frozen === 'A' ? [this.A, 'columns' as const] : [this.B, 'rows' as const];
    await prepareLoraFactor(t, side, { ridge: this.ridge });
  }

  /** Frees the frozen factor's cached Cholesky factor, then the parameters (the base's included). */
  override dispose(): void {
    if (this.spec.frozen) releaseLoraFactor(this.spec.frozen === 'A' ? this.A : this.B);
    super.dispose();
  }
}

/** LoRA: A and B trained (A random, B zeros). */
export class LoraLinear extends LoraAdapterLinear {
  constructor(base: Linear, options: LoraLayerOptions) {
    super(base, options, { name: 'LoraLinear', op: lora, initA: 'gaussian', initB: 'zeros', frozen: null });
  }
}

/** LoRA-FA: A frozen (random), B trained (zeros) with the closed-form projected gradient; saves only XA. */
export class LoraFaLinear extends LoraAdapterLinear {
  constructor(base: Linear, options: LoraLayerOptions) {
    super(base, options, { name: 'LoraFaLinear', op: loraFA, initA: 'gaussian', initB: 'zeros', frozen: 'A' });
  }
}

/** LoRA-FB: B frozen (random, full row rank), A trained (zeros) with the projected gradient from the right. */
export class LoraFbLinear extends LoraAdapterLinear {
  constructor(base: Linear, options: LoraLayerOptions) {
    super(base, options, { name: 'LoraFbLinear', op: loraFB, initA: 'zeros', initB: 'gaussian', frozen: 'B' });
  }
}
