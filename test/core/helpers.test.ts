/**
 * The test helpers must be able to fail: checkOp rejects a gradient off by 0.05%, and
 * broadcastPair generates the pairs that stress broadcasting's backward.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Function, gradcheck, ops, type Context, type Tensor } from '../../src/index.ts';
import { broadcastPair, shape } from '../helpers/arbitraries.ts';
import { checkOp, randomInput } from '../helpers/check-op.ts';
import { broadcastShape, map } from '../helpers/reference.ts';

/** y = x², with the gradient 2x scaled by `factor` (1 is right; 1 + 5e-4 is 0.05% off). */
function square(factor: number) {
  return class Square extends Function {
    static override readonly opName = 'square';
    static override forward(ctx: Context, x: Tensor): Tensor {
      ctx.saveForBackward(x);
      return ops.mul(x, x);
    }
    static override backward(ctx: Context, g: Tensor) {
      const [x] = ctx.savedTensors as [Tensor];
      return [ops.mul(g, ops.mul(x, 2 * factor))];
    }
  };
}

describe('checkOp', () => {
  const run = (factor: number, s: number[], sd: number) => {
    const Square = square(factor);
    checkOp({ shapes: [s], seed: sd, op: (x) => Square.apply(x), ref: (x) => map(x, (v) => v * v), domain: { awayFromZero: 0.5 } });
  };

  it('fails a gradient off by 0.05% (and passes the right one)', () => {
    fc.assert(fc.property(shape(1, 3, 4), fc.nat(), (s, sd) => {
      run(1, s, sd);
      expect(() => run(1 + 5e-4, s, sd)).toThrow(/gradcheck failed/);
    }));
  });

  it('gradcheck\'s user-facing defaults (rtol 1e-3) would have let it pass', () => {
    const { t: x } = randomInput([3, 4], 7, { awayFromZero: 0.5 });
    const Wrong = square(1 + 5e-4);
    expect(gradcheck((v) => Wrong.apply(v), [x]).ok).toBe(true);
  });
});

describe('broadcastPair', () => {
  /** Whether s (right-aligned against out) has an axis that backward must sum over. */
  const reduced = (s: readonly number[], out: readonly number[]) =>
    out.slice(0, out.length - s.length).some((d) => d > 1) || s.some((d, i) => d === 1 && out[out.length - s.length + i]! > 1);

  it('every pair broadcasts, and mutual pairs of equal and of different ranks occur', () => {
    const pairs = fc.sample(broadcastPair(3, 4), { numRuns: 300, seed: 1 });
    for (const [a, b] of pairs) expect(() => broadcastShape(a, b)).not.toThrow();
    const mutual = pairs.filter(([a, b]) => {
      const out = broadcastShape(a, b);
      return reduced(a, out) && reduced(b, out);
    });
    expect(mutual.some(([a, b]) => a.length === b.length)).toBe(true); // as [3, 1] with [1, 4]
    expect(mutual.some(([a, b]) => a.length !== b.length)).toBe(true); // as [4] with [3, 1]
    expect(pairs.some(([a, b]) => a.length === 0 || b.length === 0)).toBe(true);
  });
});
