import type { BinaryOp } from '../../backends/backend.ts';
import { fail, describe } from '../../errors.ts';
import { broadcastShapes } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { Function, type Context } from '../function.ts';
import { asTensor, checkSameDtype, sumToShape, withOperands, wrap, type Operand } from './util.ts';
import { autocastOp } from '../autocast.ts';

/** 1 where the comparison holds, else 0 (broadcast; not differentiable: the result never requires grad). */
function compare(op: BinaryOp, a: Operand, b: Operand): Tensor {
  return withOperands(op, a, b, (ta, tb) => {
    ta.assertAlive(op);
    tb.assertAlive(op);
    checkSameDtype(op, ta, tb);
    if (ta.device !== tb.device) fail(op, `inputs are on different devices: ${describe('a', ta)} and ${describe('b', tb)}`);
    const shape = broadcastShapes(op, [ta.shape, tb.shape]);
    return wrap(ta.backend.kernels.binary(op, ta.storage, ta.shape, tb.storage, tb.shape, shape), shape);
  });
}

export const eq = (a: Operand, b: Operand): Tensor => compare('eq', a, b);
export const gt = (a: Operand, b: Operand): Tensor => compare('gt', a, b);

interface WhereMeta {
  aShape: readonly number[];
  bShape: readonly number[];
}

/**
 * Forward: y = cond ≠ 0 ? a : b (all broadcast together; cond of any dtype).
 * Backward: da = Σ_broadcast (cond ? g : 0), db = Σ_broadcast (cond ? 0 : g).
 * Saves: cond (only the condition: a and b are not needed).
 */
export class Where extends Function {
  static override readonly opName = 'where';
  static override forward(ctx: Context<WhereMeta>, cond: Tensor, a: Tensor, b: Tensor): Tensor {
    checkSameDtype(this.opName, a, b);
    const shape = broadcastShapes(this.opName, [cond.shape, a.shape, b.shape]);
    ctx.meta = { aShape: a.shape, bShape: b.shape };
    if (ctx.needsInputGrad[0]) fail(this.opName, `${describe('cond', cond)} requires grad; the condition is not differentiable (detach it)`);
    ctx.saveForBackward(cond);
    return wrap(a.backend.kernels.where(cond.storage, cond.shape, a.storage, a.shape, b.storage, b.shape, shape), shape);
  }
  static override backward(ctx: Context<WhereMeta>, g: Tensor) {
    const [cond] = ctx.savedTensors as [Tensor];
    const zero = asTensor(0, g);
    const k = g.backend.kernels;
    const pick = (ifTrue: Tensor, ifFalse: Tensor) =>
      wrap(k.where(cond.storage, cond.shape, ifTrue.storage, ifTrue.shape, ifFalse.storage, ifFalse.shape, g.shape), g.shape);
    const [, na, nb] = ctx.needsInputGrad;
    return [null, na ? sumToShape(pick(g, zero), ctx.meta.aShape) : null, nb ? sumToShape(pick(zero, g), ctx.meta.bShape) : null];
  }
}

export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  return withOperands('where', a, b, (ta, tb) => autocastOp('promote', [ta, tb], (ca, cb) => Where.apply(cond, ca, cb)));
}

/** x with value wherever mask ≠ 0 (e.g. −∞ above the diagonal for a causal mask). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return withOperands('maskedFill', value, x, (v, t) => Where.apply(mask, v, t));
}
