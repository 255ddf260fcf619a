/**
 * The linear layer as one op, Y = X·W + b: the Full-FT reference of the LoRA family (src/lora/)
 * and what nn.Linear computes. Shapes: x [..., d] is used as X [N, d]; W [d, o]; b [o].
 */
import { describe, fail } from '../../errors.ts';
import type { Tensor } from '../../tensor.ts';
import { Function, type Context } from '../function.ts';
import { mm } from './matmul.ts';
import { checkFloat, reshaped, rows2d, wrap } from './util.ts';
import { autocastOp } from '../autocast.ts';

/**
 * Checks x [..., d] and W [d, o] — and every other named tensor of an op built on them (the LoRA
 * ops pass A and B, and what they expect) — as one float dtype; returns N, d and o.
 */
export function checkLinear(
  op: string, x: Tensor, W: Tensor,
  named: readonly (readonly [string, Tensor])[] = [['x', x], ['W', W]],
  expected = 'x [..., d], W [d, o]',
): { N: number; d: number; o: number } {
  checkFloat(op, ...named.map(([, t]) => t));
  if (named.some(([, t]) => t.dtype !== x.dtype)) {
    fail(op, `dtypes differ: ${given(named)}; expected one dtype (cast with ops.cast)`);
  }
  if (W.rank !== 2 || x.rank < 1 || x.shape[x.rank - 1] !== W.shape[0]) fail(op, `shapes do not fit: ${given(named)}; expected ${expected}`);
  const [d, o] = W.shape as [number, number];
  return { N: d === 0 ? 0 : x.size / d, d, o };
}

/** "x [2, 3] (float32, cpu), W [...] ..." for error messages. */
export function given(named: readonly (readonly [string, Tensor])[]): string {
  return named.map(([n, t]) => describe(n, t)).join(', ');
}

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
    const { d, o } = checkLinear(this.opName, x, W);
    if (bias && (bias.rank !== 1 || bias.shape[0] !== o || bias.dtype !== x.dtype)) {
      fail(this.opName, `${describe('bias', bias)} does not fit ${describe('W', W)}; expected shape [${o}] and dtype ${x.dtype}`);
    }
    const X = rows2d(x, d);
    const Y = mm(X, W, false, false, { bias }); //                            [N, o], + b in the same pass
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

/** y = x·W + b: the Full-FT reference (what nn.Linear computes). */
export function linear(x: Tensor, W: Tensor, bias: Tensor | null = null): Tensor {
  return autocastOp('lower', [x, W, bias], (cx, cW, cb) => Linear.apply(cx, cW, cb));
}
