import { DTYPES, isFloat, type DType } from '../../dtype.ts';
import { describe, fail } from '../../errors.ts';
import type { Tensor } from '../../tensor.ts';
import { Function, type Context } from '../function.ts';
import { wrap } from './util.ts';

/**
 * Forward: y = x converted to dtype (to int32 truncates toward zero).
 * Backward: dx = g converted back to x's dtype (float to float only).
 * Saves: nothing.
 */
export class Cast extends Function {
  static override readonly opName = 'cast';
  static override forward(ctx: Context<{ from: DType }>, x: Tensor, dtype: DType): Tensor {
    if (!DTYPES.includes(dtype)) fail(this.opName, `unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}`);
    if (!x.backend.supportsDtype(dtype)) fail(this.opName, `${describe('x', x)} cannot become ${dtype}: ${x.device} does not support it`);
    if (ctx.needsInputGrad[0] && !isFloat(dtype)) fail(this.opName, `${describe('x', x)} requires grad; casting it to ${dtype} is not differentiable`);
    ctx.meta = { from: x.dtype };
    return wrap(x.backend.kernels.cast(x.storage, dtype), x.shape);
  }
  static override backward(ctx: Context<{ from: DType }>, g: Tensor) {
    return [wrap(g.backend.kernels.cast(g.storage, ctx.meta.from), g.shape), null];
  }
}

export const cast = (x: Tensor, dtype: DType): Tensor => Cast.apply(x, dtype);
