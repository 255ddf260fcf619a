/**
 * The LoRA family as first-class ops (the `ops` namespace exports all four):
 *   linear  Y = X·W + b                       the Full-FT reference
 *   lora    Y = X·W + σ·(X·A)·B               A and B trained (W usually frozen)
 *   loraFA  the same forward, A and W frozen:  saves only XA, projected gradient for B   (lora-frozen.ts)
 *   loraFB  the same forward, B and W frozen:  projected gradient for A                  (lora-frozen.ts)
 * Shapes: x [..., d] is used as X [N, d]; W [d, o]; A [d, r]; B [r, o]; σ = α/r. The
 * mathematics is in shared/paper/MATH.md; `npm run verify` checks every claim of it.
 */
import { describe, fail } from '../../errors.ts';
import type { Tensor } from '../../tensor.ts';
import { Function, type Context } from '../function.ts';
import {
  adapterDropout, addScaledInto, checkArgs, inputGrad, mm, parseOptions, reshaped, rows2d, scaled,
  type LoraConfig, type LoraOptions,
} from './lora-common.ts';
import { wrap } from './util.ts';

export { loraFA, loraFB, LoraFA, LoraFB } from './lora-frozen.ts';
export type { LoraOptions, LoraFrozenOptions } from './lora-common.ts';

interface LinearMeta {
  xShape: readonly number[];
}

/**
 * Forward: Y = X·W + b, X = x as [N, d], W [d, o], optional b [o]; y is [..., o].
 * Backward: gradX = dY·Wᵀ; gradW = Xᵀ·dY; gradb = Σ over rows of dY.
 * Saves: X [N, d] only if W needs a gradient (Full-FT keeps N·d elements per layer);
 *        W only if x needs one (a parameter: 0 activation bytes). b is never needed.
 */
export class Linear extends Function {
  static override readonly opName = 'linear';
  static override forward(ctx: Context<LinearMeta>, x: Tensor, W: Tensor, bias: Tensor | null): Tensor {
    const { N, d, o } = checkArgs(this.opName, x, W, null, null);
    if (bias && (bias.rank !== 1 || bias.shape[0] !== o || bias.dtype !== x.dtype)) {
      fail(this.opName, `${describe('bias', bias)} does not fit ${describe('W', W)}; expected shape [${o}] and dtype ${x.dtype}`);
    }
    const X = rows2d(x, d);
    let Y = mm(X, W); //                                                      [N, o]
    if (bias) Y = addBias(Y, bias, N, o);
    const [nx, nW] = ctx.needsInputGrad;
    ctx.meta = { xShape: x.shape };
    ctx.saveForBackward(nW ? X : null, nx ? W : null);
    X.dispose();
    return reshaped(Y, [...x.shape.slice(0, -1), o]);
  }
  static override backward(ctx: Context<LinearMeta>, g: Tensor) {
    const [X, W] = ctx.savedTensors;
    const o = g.shape[g.rank - 1]!;
    const dY = rows2d(g, o); //                                              [N, o]
    const gradBias = ctx.needsInputGrad[2] ? wrap(g.backend.kernels.reduce('sum', dY.storage, 1, dY.shape[0]!, o), [o]) : null;
    return [W && reshaped(mm(dY, W, false, true), ctx.meta.xShape), X && mm(X, dY, true), gradBias];
  }
}

/** Y [N, o] + b [o] broadcast over rows; disposes Y. */
function addBias(Y: Tensor, bias: Tensor, N: number, o: number): Tensor {
  const out = wrap(Y.backend.kernels.binary('add', Y.storage, [N, o], bias.storage, [o], [N, o]), [N, o]);
  Y.dispose();
  return out;
}

/** y = x·W + b: the Full-FT reference (what nn.Linear computes). */
export function linear(x: Tensor, W: Tensor, bias: Tensor | null = null): Tensor {
  return Linear.apply(x, W, bias);
}

interface LoraMeta {
  cfg: LoraConfig;
  xShape: readonly number[];
}

/**
 * Standard LoRA (Hu et al.): any of x, W, A, B may need a gradient.
 * Forward: Y = X·W + σ·(X̃·A)·B with X̃ = dropout(X) (mask drawn from (seed, offset));
 *          XA = X̃·A [N, r] is computed once.
 * Backward: gradX = dY·Wᵀ + σ·drop((dY·Bᵀ)·Aᵀ);  gradW = Xᵀ·dY;
 *           gradA = g_A = σ·X̃ᵀ·(dY·Bᵀ), X̃ regenerated from X and the seed;  gradB = g_B = σ·(XA)ᵀ·dY.
 * Saves: X [N, d] if A or W needs a gradient; XA [N, r] if B does; W, A, B (parameters,
 *        0 bytes) where gradX or gradA need them. Training A and B: N·(d + r) elements, with
 *        or without dropout (the mask is regenerated, never stored).
 */
export class Lora extends Function {
  static override readonly opName = 'lora';
  static override forward(ctx: Context<LoraMeta>, x: Tensor, W: Tensor, A: Tensor, B: Tensor, cfg: LoraConfig): Tensor {
    const { d, o } = checkArgs(this.opName, x, W, A, B);
    const X = rows2d(x, d); //                                                [N, d]
    const Xd = adapterDropout(X, cfg);
    const XA = mm(Xd, A); //                                                  [N, r]
    Xd.dispose();
    const Y = addScaledInto(mm(X, W), cfg.scale, mm(XA, B)); //               [N, o]
    const [nx, nW, nA, nB] = ctx.needsInputGrad;
    ctx.meta = { cfg, xShape: x.shape };
    ctx.saveForBackward(nW || nA ? X : null, nB ? XA : null, nx ? W : null, nx ? A : null, nx || nA ? B : null);
    X.dispose();
    XA.dispose();
    return reshaped(Y, [...x.shape.slice(0, -1), o]);
  }
  static override backward(ctx: Context<LoraMeta>, g: Tensor) {
    const [X, XA, W, A, B] = ctx.savedTensors;
    const [nx, nW, nA, nB] = ctx.needsInputGrad;
    const { cfg, xShape } = ctx.meta;
    const dY = rows2d(g, g.shape[g.rank - 1]!); //                            [N, o]
    const dYBt = nx || nA ? mm(dY, B!, false, true) : null; //                [N, r]
    return [
      nx ? inputGrad(dY, W!, A!, B!, cfg, xShape, dYBt!) : null,
      nW ? mm(X!, dY, true) : null,
      nA ? scaled(mm(adapterDropout(X!, cfg), dYBt!, true), cfg.scale) : null, // σ·X̃ᵀ·(dY·Bᵀ)  [d, r]
      nB ? scaled(mm(XA!, dY, true), cfg.scale) : null, //                       σ·(XA)ᵀ·dY     [r, o]
      null,
    ];
  }
}

/** Standard LoRA: x·W + σ·(dropout(x)·A)·B. */
export function lora(x: Tensor, W: Tensor, A: Tensor, B: Tensor, options: LoraOptions): Tensor {
  return Lora.apply(x, W, A, B, parseOptions('lora', x, options));
}
