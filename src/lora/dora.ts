/**
 * DoRA (Liu et al., 2024), weight-decomposed low-rank adaptation, as one op. The adapted weight
 * is the LoRA weight with each column rescaled to a trained magnitude:
 *   V = W + σ·A·B [d, o],   n = ‖V‖_col [o] (n_j = ‖V[:, j]‖₂, one norm per output unit),
 *   W' = V·diag(m/n),       m [o] trained (initialised to ‖W + σ·A·B‖_col, so W' = V at the start).
 * With adapter dropout (PEFT's form: dropout feeds only the adapter's share of the output):
 *   Y = X·W + X̃·(W' − W),   X̃ = dropout(X);   without dropout Y = X·W'.
 * Shapes: x [..., d] as X [N, d]; W [d, o]; A [d, r]; B [r, o]; m [o]. docs/math.md, "DoRA".
 */
import { Function, type Context } from '../autograd/function.ts';
import { autocastOp } from '../autograd/autocast.ts';
import { mm } from '../autograd/ops/matmul.ts';
import { reshaped, rows2d, view, wrap } from '../autograd/ops/util.ts';
import { describe, fail } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import {
  adapterDropout, addScaledInto, checkArgs, checkFrozen, columnSums, hadamard, parseOptions, scaleColumns, scaled,
  type LoraConfig, type LoraOptions,
} from './common.ts';

export interface DoraOptions extends LoraOptions {
  /**
   * false (default): the exact gradient, n depending on A and B. true: n treated as a constant
   * in backward (the DoRA paper's §4.3 and Hugging Face PEFT's choice; the forward is the same).
   */
  detachNorm?: boolean;
}

interface DoraMeta {
  cfg: LoraConfig;
  detach: boolean;
  xShape: readonly number[];
}

/** V = W + σ·A·B [d, o], n = ‖V‖_col [o] and s = m/n [o]: weight-sized, recomputed in backward from the parameters. */
export function doraWeight(W: Tensor, A: Tensor, B: Tensor, m: Tensor, scale: number): { V: Tensor; n: Tensor; s: Tensor } {
  const k = W.backend.kernels;
  const V = addScaledInto(view(W, W.shape), scale, mm(A, B));
  const sq = hadamard(V, V);
  const sums = columnSums(sq);
  const n = wrap(k.unary('sqrt', sums.storage, 0), [W.shape[1]!]);
  sq.dispose();
  sums.dispose();
  const s = wrap(k.binary('div', m.storage, m.shape, n.storage, n.shape, m.shape), m.shape);
  return { V, n, s };
}

/**
 * DoRA: W frozen; x, A, B and m may need gradients.
 * Forward: V, n, s = m/n as above; XA = X̃·A [N, r]; DV = X̃·V = X̃·W + σ·XA·B [N, o];
 *          Y = DV·diag(s) (no dropout), or X·W + DV·diag(s) − X̃·W (dropout).
 * Backward: E = dY·diag(s) [N, o]; c = Σ_rows dY ⊙ DV [o]; k = c ⊙ m / n³ (0 with detachNorm);
 *           gradm = c / n;
 *           gradA = σ·(X̃ᵀ·(E·Bᵀ) − V·diag(k)·Bᵀ),   gradB = σ·((XA)ᵀ·E − Aᵀ·V·diag(k))
 *           (the chain rule through V: dV = X̃ᵀ·E − V·diag(k));
 *           gradX = E·Vᵀ (no dropout), or dY·Wᵀ + drop(E·Vᵀ − dY·Wᵀ), the mask regenerated.
 * Saves: X [N, d] if A needs a gradient (X̃ is regenerated from X and the seed); XA [N, r] if B
 *        does; DV [N, o] if m does, or if A or B does and the norm is not detached (c needs it):
 *        N·(d + r + o) elements when A, B and m train — LoRA's N·(d + r) plus N·o. V, n and s
 *        are recomputed from W, A, B and m (parameters, 0 bytes), never saved.
 */
export class Dora extends Function {
  static override readonly opName = 'dora';
  static override forward(ctx: Context<DoraMeta>, x: Tensor, W: Tensor, A: Tensor, B: Tensor, m: Tensor, cfg: LoraConfig, detach: boolean): Tensor {
    const { d, o } = checkArgs(this.opName, x, W, A, B);
    if (m.rank !== 1 || m.shape[0] !== o || m.dtype !== x.dtype) {
      fail(this.opName, `${describe('m', m)} does not fit ${describe('W', W)}; expected the magnitude m [${o}] in ${x.dtype}`);
    }
    checkFrozen(this.opName, 'DoRA', 'A, B and m', [['W', W]]);
    const [, , nA, nB, nm] = ctx.needsInputGrad;
    const { V, n, s } = doraWeight(W, A, B, m, cfg.scale);
    const X = rows2d(x, d); //                                                    [N, d]
    const Xd = adapterDropout(X, cfg);
    const XA = mm(Xd, A); //                                                      [N, r]
    const XdW = mm(Xd, W); //                                                     X̃·W  [N, o]
    const DV = addScaledInto(view(XdW, XdW.shape), cfg.scale, mm(XA, B)); //      X̃·V  [N, o]
    let Y = scaleColumns(DV, s);
    if (cfg.p > 0) Y = addScaledInto(addScaledInto(Y, 1, mm(X, W)), -1, view(XdW, XdW.shape));
    ctx.meta = { cfg, detach, xShape: x.shape };
    const needDV = nm || (!detach && (nA || nB));
    ctx.saveForBackward(nA ? X : null, nB ? XA : null, needDV ? DV : null, W, A, B, m);
    for (const t of [V, n, s, X, Xd, XA, XdW, DV]) t.dispose();
    return reshaped(Y, [...x.shape.slice(0, -1), o]);
  }
  static override backward(ctx: Context<DoraMeta>, g: Tensor) {
    const [X, XA, DV, W, A, B, m] = ctx.savedTensors;
    const [nx, , nA, nB, nm] = ctx.needsInputGrad;
    const { cfg, detach } = ctx.meta;
    const kern = g.backend.kernels;
    const { V, n, s } = doraWeight(W!, A!, B!, m!, cfg.scale);
    const dY = rows2d(g, g.shape[g.rank - 1]!); //                                [N, o]
    const E = scaleColumns(dY, s); //                                             dY·diag(s)  [N, o]
    const c = DV ? columnSums(hadamard(dY, DV)) : null; //                        [o]
    const div = (a: Tensor, b: Tensor) => wrap(kern.binary('div', a.storage, a.shape, b.storage, b.shape, a.shape), a.shape);
    // V·diag(k), k = c ⊙ m / n³: the part of dV that comes through the norm
    const VK = !detach && (nA || nB) ? scaleColumns(V, div(hadamard(c!, m!), hadamard(hadamard(n, n), n))) : null;
    const gradA = nA
      ? scaled(VK ? addScaledInto(mm(adapterDropout(X!, cfg), mm(E, B!, false, true), true), -1, mm(VK, B!, false, true))
        : mm(adapterDropout(X!, cfg), mm(E, B!, false, true), true), cfg.scale)
      : null;
    const gradB = nB
      ? scaled(VK ? addScaledInto(mm(XA!, E, true), -1, mm(A!, VK, true)) : mm(XA!, E, true), cfg.scale)
      : null;
    let gradX: Tensor | null = null;
    if (nx) {
      const EVt = mm(E, V, false, true); //                                       [N, d]
      gradX = cfg.p > 0
        ? addScaledInto(mm(dY, W!, false, true), 1, adapterDropout(addScaledInto(EVt, -1, mm(dY, W!, false, true)), cfg))
        : EVt;
      gradX = reshaped(gradX, ctx.meta.xShape);
    }
    return [gradX, null, gradA, gradB, nm ? div(c!, n) : null, null, null];
  }
}

/** DoRA: y = x·W' with W' = (W + σ·A·B)·diag(m/‖W + σ·A·B‖_col) (adapter dropout as PEFT applies it). */
export function dora(x: Tensor, W: Tensor, A: Tensor, B: Tensor, m: Tensor, options: DoraOptions): Tensor {
  const detach = options?.detachNorm ?? false;
  if (typeof detach !== 'boolean') fail('dora', `detachNorm = ${String(detach)} is invalid; expected true or false`);
  const cfg = parseOptions('dora', x, options);
  return autocastOp('lower', [x, W, A, B, m], (cx, cW, cA, cB, cm) => Dora.apply(cx, cW, cA, cB, cm, cfg, detach));
}
