/**
 * LoRA-Pro (Wang et al., 2024) as one op: LoRA's forward with both factors trained, and a
 * backward that replaces (g_A, g_B) by the pair whose equivalent update of the effective weight,
 * σ·(A·g̃_B + g̃_A·B), is the closest such update to Full-FT's gradient G = Xᵀ·dY
 * (docs/math.md, "LoRA-Pro"; claim 11):
 *   min ‖σ·(A·g̃_B + g̃_A·B) − G‖_F  is reached at  Π(G) = P_A·G + G·P_B − P_A·G·P_B,
 * the orthogonal projection of G onto {A·M + N·B}. Its minimisers form a family with a free r×r
 * matrix; lorafa returns the member in closed form
 *   g̃_B = (1/σ)·(AᵀA)⁻¹·Aᵀ·G = (1/σ²)·(AᵀA)⁻¹·g_B                    (LoRA-FA's corrected gradient)
 *   g̃_A = (1/σ)·(I − P_A)·G·Bᵀ·(BBᵀ)⁻¹ = (1/σ²)·(I − P_A)·g_A·(BBᵀ)⁻¹
 * so that σ·A·g̃_B = P_A·G and σ·g̃_A·B = (I − P_A)·G·P_B. Both r×r Gram matrices are factored by
 * the factor cache (Cholesky in float64); A and B change every step, so each step refactors
 * them (on the CPU from their host values; on WebGPU call `await layer.prepare()` before each
 * forward). A ridge λ (default 0) is added to both Gram matrices — LoRA-Pro's own code uses
 * 1e-8, which is also what makes the usual start B = 0 (BBᵀ = 0) usable.
 */
import { Function, type Context } from '../autograd/function.ts';
import { autocastOp } from '../autograd/autocast.ts';
import { mm } from '../autograd/ops/matmul.ts';
import { reshaped, rows2d } from '../autograd/ops/util.ts';
import type { Tensor } from '../tensor.ts';
import {
  adapterDropout, addScaledInto, biasGrad, checkArgs, checkBias, checkFrozen, cholSolve, inputGrad, loraForward, parseOptions, scaled, transposed,
  type LoraBiasOption, type LoraConfig, type LoraFrozenOptions,
} from './common.ts';
import { loraFactor } from './factor-cache.ts';

interface ProMeta {
  cfg: LoraConfig;
  xShape: readonly number[];
}

/** Options of ops.loraPro: LoRA's (a bias included), and a ridge λ ≥ 0 added to AᵀA and BBᵀ. */
export type LoraProOptions = Omit<LoraFrozenOptions, 'correction'> & LoraBiasOption;

/**
 * LoRA-Pro: W frozen, A and B trained (x may need a gradient).
 * Forward: Y = X·W + b + σ·(X̃·A)·B, X̃ = dropout(X), b optional; XA = X̃·A [N, r] computed once.
 * Backward: with T = X̃ᵀ·(dY·Bᵀ) [d, r] (g_A = σ·T) and L_A, L_B the factors of AᵀA + λI, BBᵀ + λI:
 *           gradB = (1/σ)·cholSolve(L_A, (XA)ᵀ·dY)                         = (1/σ²)(AᵀA)⁻¹·g_B
 *           gradA = (1/σ)·cholSolve(L_B, (T − A·cholSolve(L_A, Aᵀ·T))ᵀ)ᵀ  = (1/σ²)(I − P_A)·g_A·(BBᵀ)⁻¹
 *           gradX = dY·Wᵀ + σ·drop((dY·Bᵀ)·Aᵀ), only if x needs it; gradb = Σ over rows of dY, only if b needs it.
 * Saves: X [N, d] if A needs a gradient (for g_A); XA [N, r] if B does (for g_B) — LoRA's
 *        N·(d + r); the factors L_A, L_B [r, r] (cached, parameters: 0 bytes); W, A, B (0 bytes).
 */
export class LoraPro extends Function {
  static override readonly opName = 'loraPro';
  static override forward(ctx: Context<ProMeta>, x: Tensor, W: Tensor, A: Tensor, B: Tensor, bias: Tensor | null, cfg: LoraConfig): Tensor {
    const { d, o } = checkArgs(this.opName, x, W, A, B);
    checkBias(this.opName, bias, x, W);
    checkFrozen(this.opName, 'LoRA-Pro', 'A and B', [['W', W]]);
    const [nx, , nA, nB] = ctx.needsInputGrad;
    const LA = nA || nB ? loraFactor(this.opName, A, 'columns', cfg.ridge) : null;
    const LB = nA ? loraFactor(this.opName, B, 'rows', cfg.ridge) : null;
    const { X, XA, Y } = loraForward(x, W, A, B, cfg, d, bias);
    ctx.meta = { cfg, xShape: x.shape };
    ctx.saveForBackward(nA ? X : null, nB ? XA : null, LA, LB, nx ? W : null, A, B);
    for (const t of [X, XA, LA, LB]) t?.dispose();
    return reshaped(Y, [...x.shape.slice(0, -1), o]);
  }
  static override backward(ctx: Context<ProMeta>, g: Tensor) {
    const [X, XA, LA, LB, W, A, B] = ctx.savedTensors;
    const [nx, , nA, nB] = ctx.needsInputGrad;
    const { cfg, xShape } = ctx.meta;
    const dY = rows2d(g, g.shape[g.rank - 1]!); //                              [N, o]
    const dYBt = mm(dY, B!, false, true); //                                    dY·Bᵀ  [N, r]
    const gradB = nB ? cholSolve(LA!, mm(XA!, dY, true, false, { alpha: 1 / cfg.scale })) : null;
    let gradA: Tensor | null = null;
    if (nA) {
      const T = mm(adapterDropout(X!, cfg), dYBt, true); //                     X̃ᵀ·dY·Bᵀ = g_A/σ  [d, r]
      const PT = mm(A!, cholSolve(LA!, mm(A!, T, true))); //                    P_A·T  [d, r]
      const residual = addScaledInto(T, -1, PT); //                             (I − P_A)·T
      gradA = scaled(transposed(cholSolve(LB!, transposed(residual))), 1 / cfg.scale); // [d, r]
    }
    return [nx ? inputGrad(dY, W!, A!, B!, cfg, xShape, dYBt) : null, null, gradA, gradB, biasGrad(dY, ctx.needsInputGrad[4]), null];
  }
}

/**
 * LoRA-Pro: y = x·W + σ·(dropout(x)·A)·B with A and B trained; their gradients are replaced by
 * the pair whose equivalent update σ·(A·g̃_B + g̃_A·B) = P_A·G + G·P_B − P_A·G·P_B is the closest to G.
 */
export function loraPro(x: Tensor, W: Tensor, A: Tensor, B: Tensor, options: LoraProOptions): Tensor {
  const cfg = parseOptions('loraPro', x, { ...options, correction: 'closed-form' });
  return autocastOp('lower', [x, W, A, B, options.bias ?? null], (cx, cW, cA, cB, cb) => LoraPro.apply(cx, cW, cA, cB, cb, cfg));
}
