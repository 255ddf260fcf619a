/**
 * VeRA (Kopiczko et al., 2024), vector-based random matrix adaptation, as one op. A [d, r] and
 * B [r, o] are frozen random matrices shared by every adapted layer; each layer trains only two
 * vectors, d [r] (named dv here) and b [o] (bv):
 *   ΔW = A·diag(dv)·B·diag(bv),   Y = X·W + (((X̃·A) ⊙ dv)·B) ⊙ bv,   X̃ = dropout(X)
 * (no α/r scale). In PyTorch's layout this is PEFT's Λ_b·B_pt·Λ_d·A_pt. docs/math.md, "VeRA".
 */
import { Function, type Context } from '../autograd/function.ts';
import { autocastOp } from '../autograd/autocast.ts';
import { checkLinear, given } from '../autograd/ops/linear.ts';
import { mm } from '../autograd/ops/matmul.ts';
import { reshaped, rows2d } from '../autograd/ops/util.ts';
import { fail } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { adapterDropout, addScaledInto, checkAdapterOptions, checkFrozen, columnSums, dropoutState, hadamard, scaleColumns, type LoraConfig } from './common.ts';

export interface VeraOptions {
  /** Drop probability of the adapter's input, in [0, 1) (0: no dropout). */
  dropout?: number;
  /** A fixed dropout seed (offset 0) instead of the global generator's next (seed, offset). */
  seed?: number;
}

interface VeraMeta {
  cfg: LoraConfig;
  xShape: readonly number[];
}

/** Checks x [..., d], W [d, o], A [d, r], B [r, o], dv [r], bv [o] (any r ≥ 1): one float dtype. */
function checkVera(op: string, x: Tensor, W: Tensor, A: Tensor, B: Tensor, dv: Tensor, bv: Tensor): { d: number; o: number } {
  const named = [['x', x], ['W', W], ['A', A], ['B', B], ['d', dv], ['b', bv]] as const;
  const expected = 'x [..., d], W [d, o], A [d, r], B [r, o], d [r], b [o] with r ≥ 1';
  const { d, o } = checkLinear(op, x, W, named, expected);
  const r = A.shape[1];
  const fits = A.rank === 2 && B.rank === 2 && dv.rank === 1 && bv.rank === 1 && A.shape[0] === d && B.shape[0] === r && B.shape[1] === o &&
    dv.shape[0] === r && bv.shape[0] === o && r! >= 1;
  if (!fits) fail(op, `shapes do not fit: ${given(named)}; expected ${expected}`);
  return { d, o };
}

/**
 * VeRA: W, A and B frozen; x, dv and bv may need gradients.
 * Forward: XA = X̃·A [N, r]; Z = (XA ⊙ dv)·B [N, o]; Y = X·W + Z ⊙ bv.
 * Backward: gradbv = Σ_rows dY ⊙ Z;   F = (dY ⊙ bv)·Bᵀ [N, r];   graddv = Σ_rows XA ⊙ F;
 *           gradX = dY·Wᵀ + drop((F ⊙ dv)·Aᵀ), only if x needs it (weights only).
 * Saves: XA [N, r] if dv needs a gradient; Z [N, o] if bv does — N·(r + o) elements, and never
 *        the N×d input (A and B are frozen, so nothing needs X); W, A, B, dv, bv are parameters (0 bytes).
 */
export class Vera extends Function {
  static override readonly opName = 'vera';
  static override forward(ctx: Context<VeraMeta>, x: Tensor, W: Tensor, A: Tensor, B: Tensor, dv: Tensor, bv: Tensor, cfg: LoraConfig): Tensor {
    const { d, o } = checkVera(this.opName, x, W, A, B, dv, bv);
    checkFrozen(this.opName, 'VeRA', 'd and b', [['W', W], ['A', A], ['B', B]]);
    const [nx, , , , nd, nb] = ctx.needsInputGrad;
    const X = rows2d(x, d); //                                                 [N, d]
    const Xd = adapterDropout(X, cfg);
    const XA = mm(Xd, A); //                                                   [N, r]
    const XAd = scaleColumns(XA, dv);
    const Z = mm(XAd, B); //                                                   [N, o]
    const Y = addScaledInto(mm(X, W), 1, scaleColumns(Z, bv));
    ctx.meta = { cfg, xShape: x.shape };
    ctx.saveForBackward(nd ? XA : null, nb ? Z : null, nx ? W : null, nx ? A : null, B, dv, bv);
    for (const t of [X, Xd, XA, XAd, Z]) t.dispose();
    return reshaped(Y, [...x.shape.slice(0, -1), o]);
  }
  static override backward(ctx: Context<VeraMeta>, g: Tensor) {
    const [XA, Z, W, A, B, dv, bv] = ctx.savedTensors;
    const [nx, , , , nd, nb] = ctx.needsInputGrad;
    const { cfg, xShape } = ctx.meta;
    const dY = rows2d(g, g.shape[g.rank - 1]!); //                             [N, o]
    const F = nx || nd ? mm(scaleColumns(dY, bv!), B!, false, true) : null; //  (dY ⊙ bv)·Bᵀ  [N, r]
    let gradX: Tensor | null = null;
    if (nx) {
      const adapter = adapterDropout(mm(scaleColumns(F!, dv!), A!, false, true), cfg); // [N, d]
      gradX = reshaped(addScaledInto(mm(dY, W!, false, true), 1, adapter), xShape);
    }
    return [gradX, null, null, null, nd ? columnSums(hadamard(XA!, F!)) : null, nb ? columnSums(hadamard(dY, Z!)) : null, null];
  }
}

/** VeRA: y = x·W + (((dropout(x)·A) ⊙ d)·B) ⊙ b with W, A, B frozen; d [r] and b [o] trained. */
export function vera(x: Tensor, W: Tensor, A: Tensor, B: Tensor, d: Tensor, b: Tensor, options: VeraOptions = {}): Tensor {
  if (typeof options !== 'object' || options === null) fail('vera', 'expected an options object { dropout?, seed? }');
  const { dropout: p } = checkAdapterOptions('vera', options);
  const cfg: LoraConfig = { scale: 1, p, ...dropoutState('vera', x, p, options.seed), closedForm: false, ridge: 0 };
  return autocastOp('lower', [x, W, A, B, d, b], (cx, cW, cA, cB, cd, cb) => Vera.apply(cx, cW, cA, cB, cd, cb, cfg));
}
