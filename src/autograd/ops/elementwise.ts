import { UNARY_GRAD_NEEDS, type BinaryOp, type UnaryOp } from '../../backends/backend.ts';
import { broadcastShapes } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { Function, type Context } from '../function.ts';
import { isTensor } from '../tensor-class.ts';
import { checkFloat, checkSameDtype, sumToShape, withOperands, wrap, type Operand } from './util.ts';
import { autocastOp } from '../autocast.ts';

export type { Operand } from './util.ts';

type BinaryMeta = { aShape: readonly number[]; bShape: readonly number[] };

function binaryForward(op: string, kernel: BinaryOp, ctx: Context<BinaryMeta>, a: Tensor, b: Tensor): Tensor {
  checkSameDtype(op, a, b);
  const shape = broadcastShapes(op, [a.shape, b.shape]);
  ctx.meta = { aShape: a.shape, bShape: b.shape };
  return wrap(a.backend.kernels.binary(kernel, a.storage, a.shape, b.storage, b.shape, shape), shape);
}

/**
 * Forward: y = a + b (broadcast).
 * Backward: da = Σ_broadcast g, db = Σ_broadcast g.
 * Saves: nothing.
 */
export class Add extends Function {
  static override readonly opName = 'add';
  static override forward(ctx: Context<BinaryMeta>, a: Tensor, b: Tensor): Tensor {
    return binaryForward(this.opName, 'add', ctx, a, b);
  }
  static override backward(ctx: Context<BinaryMeta>, g: Tensor) {
    const [na, nb] = ctx.needsInputGrad;
    return [na ? sumToShape(g, ctx.meta.aShape) : null, nb ? sumToShape(g, ctx.meta.bShape) : null];
  }
}

/**
 * Forward: y = a − b.
 * Backward: da = Σ g, db = −Σ g.
 * Saves: nothing.
 */
export class Sub extends Function {
  static override readonly opName = 'sub';
  static override forward(ctx: Context<BinaryMeta>, a: Tensor, b: Tensor): Tensor {
    return binaryForward(this.opName, 'sub', ctx, a, b);
  }
  static override backward(ctx: Context<BinaryMeta>, g: Tensor) {
    const [na, nb] = ctx.needsInputGrad;
    return [na ? sumToShape(g, ctx.meta.aShape) : null, nb ? neg(sumToShape(g, ctx.meta.bShape)) : null];
  }
}

/**
 * Forward: y = a·b.
 * Backward: da = Σ g·b, db = Σ g·a.
 * Saves: b only if a needs a gradient, a only if b does.
 */
export class Mul extends Function {
  static override readonly opName = 'mul';
  static override forward(ctx: Context<BinaryMeta>, a: Tensor, b: Tensor): Tensor {
    const y = binaryForward(this.opName, 'mul', ctx, a, b);
    const [na, nb] = ctx.needsInputGrad;
    ctx.saveForBackward(nb ? a : null, na ? b : null);
    return y;
  }
  static override backward(ctx: Context<BinaryMeta>, g: Tensor) {
    const [a, b] = ctx.savedTensors;
    return [b ? sumToShape(mul(g, b), ctx.meta.aShape) : null, a ? sumToShape(mul(g, a), ctx.meta.bShape) : null];
  }
}

/**
 * Forward: y = a / b.
 * Backward: da = Σ g/b, db = −Σ g·a/b².
 * Saves: b if either input needs a gradient; a only if b does.
 */
export class Div extends Function {
  static override readonly opName = 'div';
  static override forward(ctx: Context<BinaryMeta>, a: Tensor, b: Tensor): Tensor {
    const y = binaryForward(this.opName, 'div', ctx, a, b);
    ctx.saveForBackward(ctx.needsInputGrad[1] ? a : null, b);
    return y;
  }
  static override backward(ctx: Context<BinaryMeta>, g: Tensor) {
    const [a, b] = ctx.savedTensors as [Tensor | null, Tensor];
    const gOverB = div(g, b);
    return [
      ctx.needsInputGrad[0] ? sumToShape(gOverB, ctx.meta.aShape) : null,
      a ? sumToShape(neg(div(mul(gOverB, a), b)), ctx.meta.bShape) : null,
    ];
  }
}

/**
 * Forward: y = f(x) for the unary ops of the backend (exp, log, tanh, ...; pow with a scalar exponent p).
 * Backward: dx = g·f'(x), from x or y as UNARY_GRAD_NEEDS says.
 * Saves: the input or the output, whichever f' needs (tanh, sigmoid, exp, sqrt, relu: the
 * output; log, abs, gelu, silu, pow: the input; neg: nothing).
 */
function unaryFunction(op: UnaryOp) {
  return class Unary extends Function {
    static override readonly opName: string = op;
    static override forward(ctx: Context<{ p: number }>, x: Tensor, p = 0): Tensor {
      checkFloat(op, x);
      const y = wrap(x.backend.kernels.unary(op, x.storage, p), x.shape);
      ctx.meta = { p };
      const needs = UNARY_GRAD_NEEDS[op];
      if (needs !== 'none') ctx.saveForBackward(needs === 'input' ? x : y);
      return y;
    }
    static override backward(ctx: Context<{ p: number }>, g: Tensor) {
      const saved = UNARY_GRAD_NEEDS[op] === 'none' ? g : ctx.savedTensors[0]!;
      return [wrap(g.backend.kernels.unaryGrad(op, saved.storage, g.storage, ctx.meta.p), g.shape)];
    }
  };
}

export const Neg = unaryFunction('neg');
export const Exp = unaryFunction('exp');
export const Log = unaryFunction('log');
export const Sqrt = unaryFunction('sqrt');
export const Abs = unaryFunction('abs');
export const Tanh = unaryFunction('tanh');
export const Sigmoid = unaryFunction('sigmoid');
export const Relu = unaryFunction('relu');
export const Gelu = unaryFunction('gelu');
export const GeluErf = unaryFunction('geluErf');
export const Silu = unaryFunction('silu');
export const Pow = unaryFunction('pow');

type ScalarMeta = { value: number; valueFirst: boolean };

/**
 * Forward: y = x ∘ s, or s ∘ x, for a number s (add, sub, mul; div as x / s only): one kernel
 * with s as a uniform, not a constant tensor (binaryScalar).
 * Backward: dx = g (add), g or −g (sub), g·s (mul), g/s (div).
 * Saves: nothing.
 */
function scalarFunction(op: 'add' | 'sub' | 'mul' | 'div') {
  return class Scalar extends Function {
    static override readonly opName: string = op;
    static override forward(ctx: Context<ScalarMeta>, x: Tensor, value: number, valueFirst: boolean): Tensor {
      checkFloat(op, x);
      ctx.meta = { value, valueFirst };
      return wrap(x.backend.kernels.binaryScalar(op, x.storage, value, valueFirst), x.shape);
    }
    static override backward(ctx: Context<ScalarMeta>, g: Tensor) {
      const { value, valueFirst } = ctx.meta;
      if (op === 'add' || (op === 'sub' && !valueFirst)) return [g];
      if (op === 'sub') return [neg(g)];
      return [wrap(g.backend.kernels.binaryScalar(op, g.storage, value, false), g.shape)];
    }
  };
}

const SCALAR = { add: scalarFunction('add'), sub: scalarFunction('sub'), mul: scalarFunction('mul'), div: scalarFunction('div') };

/** The tensor operand fixes dtype and device; a number operand is a uniform of the kernel (s / x: a constant tensor). */
function binaryOp(F: typeof Add | typeof Sub | typeof Mul | typeof Div, a: Operand, b: Operand): Tensor {
  const op = F.opName as keyof typeof SCALAR;
  if (isTensor(a) && typeof b === 'number') return SCALAR[op].apply(a, b, false);
  if (typeof a === 'number' && isTensor(b) && op !== 'div') return SCALAR[op].apply(b, a, true);
  return withOperands(F.opName, a, b, (ta, tb) => autocastOp('promote', [ta, tb], (ca, cb) => F.apply(ca, cb)));
}

export const add = (a: Operand, b: Operand): Tensor => binaryOp(Add, a, b);
export const sub = (a: Operand, b: Operand): Tensor => binaryOp(Sub, a, b);
export const mul = (a: Operand, b: Operand): Tensor => binaryOp(Mul, a, b);
export const div = (a: Operand, b: Operand): Tensor => binaryOp(Div, a, b);
export const neg = (x: Tensor): Tensor => Neg.apply(x);
export const exp = (x: Tensor): Tensor => Exp.apply(x);
export const log = (x: Tensor): Tensor => Log.apply(x);
export const sqrt = (x: Tensor): Tensor => Sqrt.apply(x);
export const abs = (x: Tensor): Tensor => Abs.apply(x);
export const tanh = (x: Tensor): Tensor => Tanh.apply(x);
export const sigmoid = (x: Tensor): Tensor => Sigmoid.apply(x);
export const relu = (x: Tensor): Tensor => Relu.apply(x);
export const silu = (x: Tensor): Tensor => Silu.apply(x);
/** x^p for a scalar exponent p. */
export const pow = (x: Tensor, p: number): Tensor => Pow.apply(x, p);

/** GELU; approximate 'tanh' (default, as GPT-2) or 'none' for the exact erf form. */
export function gelu(x: Tensor, options: { approximate?: 'tanh' | 'none' } = {}): Tensor {
  return (options.approximate ?? 'tanh') === 'tanh' ? Gelu.apply(x) : GeluErf.apply(x);
}

