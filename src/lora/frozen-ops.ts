/**
 * LoRA with one factor frozen. Both ops compute the LoRA forward Y = X·W + σ·(X̃·A)·B and
 * train the other factor with the gradient that makes the update of the effective weight the
 * closest one to Full-FT's gradient G = Xᵀ·dY (docs/math.md, Theorem 4.1 and Theorem A.1):
 *   LoRA-FA (A frozen):  g̃_B = argmin ‖σ·A·g − G‖ = (1/σ²)·(AᵀA)⁻¹·g_B,  so σ·A·g̃_B = P_A·G
 *   LoRA-FB (B frozen):  g̃_A = argmin ‖σ·g·B − G‖ = (1/σ²)·g_A·(BBᵀ)⁻¹,  so σ·g̃_A·B = G·P_B
 * The r×r Cholesky factor of AᵀA (BBᵀ) comes from the factor cache (factor-cache.ts):
 * computed once per frozen matrix, in float64, and applied with the `cholSolve` kernel.
 */
import { Function, type Context } from '../autograd/function.ts';
import { autocastOp } from '../autograd/autocast.ts';
import { mm } from '../autograd/ops/matmul.ts';
import { reshaped, rows2d } from '../autograd/ops/util.ts';
import type { Tensor } from '../tensor.ts';
import {
  adapterDropout, biasGrad, checkArgs, checkBias, checkFrozen, cholSolve, inputGrad, loraForward, parseOptions, transposed,
  type LoraBiasOption, type LoraConfig, type LoraFrozenOptions,
} from './common.ts';
import { loraFactor } from './factor-cache.ts';

interface FrozenMeta {
  cfg: LoraConfig;
  xShape: readonly number[];
}

/**
 * LoRA-FA: A and W frozen, B trained (x may need a gradient).
 * Forward: Y = X·W + b + σ·(X̃·A)·B, X̃ = dropout(X), b optional; XA = X̃·A [N, r] computed once.
 * Backward: gradB = (1/σ²)·(AᵀA + λI)⁻¹·g_B = (1/σ)·cholSolve(L, (XA)ᵀ·dY)   (correction 'closed-form')
 *           gradB = g_B = σ·(XA)ᵀ·dY                                          (correction 'none')
 *           gradX = dY·Wᵀ + σ·drop((dY·Bᵀ)·Aᵀ), mask regenerated from (seed, offset), only if x needs it;
 *           gradb = Σ over rows of dY, only if b needs it.
 * Saves: XA [N, r] — nothing of size N×d, with or without dropout; the factor L [r, r]
 *        (cached, marked as a parameter: 0 bytes); W, A, B (parameters, 0 bytes) only if x
 *        needs a gradient.
 */
export class LoraFA extends Function {
  static override readonly opName = 'loraFA';
  static override forward(ctx: Context<FrozenMeta>, x: Tensor, W: Tensor, A: Tensor, B: Tensor, bias: Tensor | null, cfg: LoraConfig): Tensor {
    const { d, o } = checkArgs(this.opName, x, W, A, B);
    checkBias(this.opName, bias, x, W);
    checkFrozen(this.opName, 'LoRA-FA', 'B', [['A', A], ['W', W]]);
    const [nx, , , nB] = ctx.needsInputGrad;
    const L = nB && cfg.closedForm ? loraFactor(this.opName, A, 'columns', cfg.ridge) : null;
    const { X, XA, Y } = loraForward(x, W, A, B, cfg, d, bias);
    ctx.meta = { cfg, xShape: x.shape };
    ctx.saveForBackward(nB ? XA : null, L, nx ? W : null, nx ? A : null, nx ? B : null);
    for (const t of [X, XA, L]) t?.dispose();
    return reshaped(Y, [...x.shape.slice(0, -1), o]);
  }
  static override backward(ctx: Context<FrozenMeta>, g: Tensor) {
    const [XA, L, W, A, B] = ctx.savedTensors;
    const [nx, , , nB] = ctx.needsInputGrad;
    const { cfg, xShape } = ctx.meta;
    const dY = rows2d(g, g.shape[g.rank - 1]!); //                         [N, o]
    let gradB: Tensor | null = null;
    if (nB) {
      // (1/σ)·(AᵀA)⁻¹·(XA)ᵀ·dY, the 1/σ in the product's epilogue; or σ·(XA)ᵀ·dY
      const XAtdY = mm(XA!, dY, true, false, { alpha: L ? 1 / cfg.scale : cfg.scale }); //  [r, o]
      gradB = L ? cholSolve(L, XAtdY) : XAtdY;
    }
    return [nx ? inputGrad(dY, W!, A!, B!, cfg, xShape) : null, null, null, gradB, biasGrad(dY, ctx.needsInputGrad[4]), null];
  }
}

/**
 * LoRA-FB: B and W frozen, A trained (x may need a gradient).
 * Forward: Y = X·W + b + σ·(X̃·A)·B, X̃ = dropout(X), b optional.
 * Backward: with T = dY·Bᵀ [N, r] and S = Tᵀ·X̃ [r, d] (= g_Aᵀ/σ), X̃ regenerated from X:
 *           gradA = (1/σ²)·g_A·(BBᵀ + λI)⁻¹ = (1/σ)·cholSolve(L, S)ᵀ   (correction 'closed-form')
 *           gradA = g_A = σ·X̃ᵀ·T                                      (correction 'none')
 *           gradX = dY·Wᵀ + σ·drop(T·Aᵀ), only if x needs it; gradb = Σ over rows of dY, only if b needs it.
 * Saves: X [N, d] (g_A needs it: LoRA-FB keeps N·d elements); the factor L [r, r] (cached,
 *        a parameter: 0 bytes); B (0 bytes); W and A (0 bytes) only if x needs a gradient.
 */
export class LoraFB extends Function {
  static override readonly opName = 'loraFB';
  static override forward(ctx: Context<FrozenMeta>, x: Tensor, W: Tensor, A: Tensor, B: Tensor, bias: Tensor | null, cfg: LoraConfig): Tensor {
    const { d, o } = checkArgs(this.opName, x, W, A, B);
    checkBias(this.opName, bias, x, W);
    checkFrozen(this.opName, 'LoRA-FB', 'A', [['B', B], ['W', W]]);
    const [nx, , nA] = ctx.needsInputGrad;
    const L = nA && cfg.closedForm ? loraFactor(this.opName, B, 'rows', cfg.ridge) : null;
    const { X, XA, Y } = loraForward(x, W, A, B, cfg, d, bias);
    ctx.meta = { cfg, xShape: x.shape };
    ctx.saveForBackward(nA ? X : null, L, nx ? W : null, nx ? A : null, B);
    for (const t of [X, XA, L]) t?.dispose();
    return reshaped(Y, [...x.shape.slice(0, -1), o]);
  }
  static override backward(ctx: Context<FrozenMeta>, g: Tensor) {
    const [X, L, W, A, B] = ctx.savedTensors;
    const [nx, , nA] = ctx.needsInputGrad;
    const { cfg, xShape } = ctx.meta;
    const dY = rows2d(g, g.shape[g.rank - 1]!); //                         [N, o]
    const T = mm(dY, B!, false, true); //                                  dY·Bᵀ  [N, r]
    let gradA: Tensor | null = null;
    if (nA) {
      const Xd = adapterDropout(X!, cfg); //                               [N, d]
      gradA = L
        ? transposed(cholSolve(L, mm(T, Xd, true, false, { alpha: 1 / cfg.scale }))) //  (1/σ)·((BBᵀ)⁻¹·Tᵀ·X̃)ᵀ  [d, r]
        : mm(Xd, T, true, false, { alpha: cfg.scale }); //                              σ·X̃ᵀ·T                  [d, r]
    }
    return [nx ? inputGrad(dY, W!, A!, B!, cfg, xShape, T) : null, null, gradA, null, biasGrad(dY, ctx.needsInputGrad[4]), null];
  }
}

/**
 * LoRA-FA: y = x·W + b + σ·(dropout(x)·A)·B with A and W frozen (b: options.bias, if given); B
 * receives the closed-form projected gradient (or the plain one with correction 'none'). Saves only XA [N, r].
 */
export function loraFA(x: Tensor, W: Tensor, A: Tensor, B: Tensor, options: LoraFrozenOptions & LoraBiasOption): Tensor {
  const cfg = parseOptions('loraFA', x, options);
  return autocastOp('lower', [x, W, A, B, options.bias ?? null], (cx, cW, cA, cB, cb) => LoraFA.apply(cx, cW, cA, cB, cb, cfg));
}

/** LoRA-FB: the same forward with B and W frozen; A receives g_A·(BBᵀ)⁻¹/σ² (or g_A with correction 'none'). */
export function loraFB(x: Tensor, W: Tensor, A: Tensor, B: Tensor, options: LoraFrozenOptions & LoraBiasOption): Tensor {
  const cfg = parseOptions('loraFB', x, options);
  return autocastOp('lower', [x, W, A, B, options.bias ?? null], (cx, cW, cA, cB, cb) => LoraFB.apply(cx, cW, cA, cB, cb, cfg));
}
