/**
 * Standard LoRA as one op (Hu et al.): Y = X·W + σ·(X·A)·B with A and B trained. Its siblings:
 *   ops.linear  Y = X·W + b, the Full-FT reference                       (src/autograd/ops/linear.ts)
 *   ops.loraFA  the same forward, A and W frozen: saves only XA, projected gradient for B   (frozen-ops.ts)
 *   ops.loraFB  the same forward, B and W frozen: projected gradient for A                  (frozen-ops.ts)
 * Shapes: x [..., d] is used as X [N, d]; W [d, o]; A [d, r]; B [r, o]; σ = α/r. The
 * mathematics is in docs/math.md; `npm run verify` checks every claim of it.
 */
import { Function, type Context } from '../autograd/function.ts';
import { autocastOp } from '../autograd/autocast.ts';
import { mm } from '../autograd/ops/matmul.ts';
import { reshaped, rows2d } from '../autograd/ops/util.ts';
import type { Tensor } from '../tensor.ts';
import { adapterDropout, biasGrad, checkArgs, checkBias, inputGrad, loraForward, parseOptions, type LoraBiasOption, type LoraConfig, type LoraOptions } from './common.ts';

interface LoraMeta {
  cfg: LoraConfig;
  xShape: readonly number[];
}

/**
 * Standard LoRA (Hu et al.): any of x, W, A, B may need a gradient.
 * Forward: Y = X·W + b + σ·(X̃·A)·B with X̃ = dropout(X) (mask drawn from (seed, offset)), b optional;
 *          XA = X̃·A [N, r] is computed once.
 * Backward: gradX = dY·Wᵀ + σ·drop((dY·Bᵀ)·Aᵀ);  gradW = Xᵀ·dY;
 *           gradA = g_A = σ·X̃ᵀ·(dY·Bᵀ), X̃ regenerated from X and the seed;  gradB = g_B = σ·(XA)ᵀ·dY;
 *           gradb = Σ over rows of dY.
 * Saves: X [N, d] if A or W needs a gradient; XA [N, r] if B does; W, A, B (parameters,
 *        0 bytes) where gradX or gradA need them. Training A and B: N·(d + r) elements, with
 *        or without dropout (the mask is regenerated, never stored).
 */
export class Lora extends Function {
  static override readonly opName = 'lora';
  static override forward(ctx: Context<LoraMeta>, x: Tensor, W: Tensor, A: Tensor, B: Tensor, bias: Tensor | null, cfg: LoraConfig): Tensor {
    const { d, o } = checkArgs(this.opName, x, W, A, B);
    checkBias(this.opName, bias, x, W);
    const { X, XA, Y } = loraForward(x, W, A, B, cfg, d, bias); //            [N, d], [N, r], [N, o]
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
      nA ? mm(adapterDropout(X!, cfg), dYBt!, true, false, { alpha: cfg.scale }) : null, // σ·X̃ᵀ·(dY·Bᵀ)  [d, r]
      nB ? mm(XA!, dY, true, false, { alpha: cfg.scale }) : null, //                       σ·(XA)ᵀ·dY     [r, o]
      biasGrad(dY, ctx.needsInputGrad[4]),
      null,
    ];
  }
}

/** Standard LoRA: x·W + b + σ·(dropout(x)·A)·B (b: options.bias, if given). */
export function lora(x: Tensor, W: Tensor, A: Tensor, B: Tensor, options: LoraOptions & LoraBiasOption): Tensor {
  const cfg = parseOptions('lora', x, options);
  return autocastOp('lower', [x, W, A, B, options.bias ?? null], (cx, cW, cA, cB, cb) => Lora.apply(cx, cW, cA, cB, cb, cfg));
}
