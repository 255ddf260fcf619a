import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ops, tensor, type Tensor } from '../../src/index.ts';
import { expectClose } from '../helpers/allclose.ts';
import { broadcastPair, seed, shape } from '../helpers/arbitraries.ts';
import { checkOp, randomInput, type Domain } from '../helpers/check-op.ts';
import { expand, map, unaryRef, zip } from '../helpers/reference.ts';

interface UnaryCase {
  name: string;
  op: (x: Tensor) => Tensor;
  ref: (v: number) => number;
  domain: Domain;
  forwardTol?: { atol?: number; rtol?: number };
}

const unaryCases: UnaryCase[] = [
  { name: 'neg', op: ops.neg, ref: unaryRef.neg!, domain: {} },
  { name: 'exp', op: ops.exp, ref: unaryRef.exp!, domain: {} },
  { name: 'log', op: ops.log, ref: unaryRef.log!, domain: { min: 0.1, max: 3 } },
  { name: 'sqrt', op: ops.sqrt, ref: unaryRef.sqrt!, domain: { min: 0.1, max: 3 } },
  { name: 'abs', op: ops.abs, ref: unaryRef.abs!, domain: { awayFromZero: 0.05 } },
  { name: 'tanh', op: ops.tanh, ref: unaryRef.tanh!, domain: { min: -3, max: 3 } },
  { name: 'sigmoid', op: ops.sigmoid, ref: unaryRef.sigmoid!, domain: { min: -6, max: 6 } },
  { name: 'relu', op: ops.relu, ref: unaryRef.relu!, domain: { awayFromZero: 0.05 } },
  { name: 'gelu (tanh)', op: (x) => ops.gelu(x), ref: unaryRef.gelu!, domain: { min: -4, max: 4 } },
  // the reference erf is Simpson's rule (≈1e-13), not the engine's series
  { name: 'gelu (erf)', op: (x) => ops.gelu(x, { approximate: 'none' }), ref: unaryRef.geluErf!, domain: { min: -5, max: 5 }, forwardTol: { atol: 1e-11 } },
  { name: 'silu', op: ops.silu, ref: unaryRef.silu!, domain: { min: -6, max: 6 } },
  { name: 'pow 2', op: (x) => ops.pow(x, 2), ref: (v) => v ** 2, domain: {} },
  { name: 'pow 3', op: (x) => ops.pow(x, 3), ref: (v) => v ** 3, domain: {} },
  { name: 'pow 0.5', op: (x) => ops.pow(x, 0.5), ref: Math.sqrt, domain: { min: 0.2, max: 3 } },
  { name: 'pow −1.5', op: (x) => ops.pow(x, -1.5), ref: (v) => v ** -1.5, domain: { min: 0.3, max: 3 } },
  { name: 'pow 0', op: (x) => ops.pow(x, 0), ref: () => 1, domain: {} },
];

describe('unary ops: forward vs reference, backward vs gradcheck', () => {
  for (const c of unaryCases) {
    it(c.name, () => {
      fc.assert(fc.property(shape(0, 3, 5), seed, (s, sd) => {
        checkOp({ shapes: [s], seed: sd, op: c.op, ref: (x) => map(x, c.ref), domain: c.domain, forwardTol: c.forwardTol });
      }));
    });
  }

  it('the Tensor methods call the same ops', () => {
    const x = tensor([0.5, 1.5], { dtype: 'float64' });
    expect(x.exp().log().sqrt().pow(2).tanh().sigmoid().relu().silu().gelu().abs().neg().dataSync())
      .toEqual(ops.neg(ops.abs(ops.gelu(ops.silu(ops.relu(ops.sigmoid(ops.tanh(ops.pow(ops.sqrt(ops.log(ops.exp(x))), 2)))))))).dataSync());
  });

  it('pow with p = 0 has gradient 0 everywhere, x = 0 included (not 0·0⁻¹ = NaN)', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const grad = (p: number) => {
        const x = tensor([0, -0, 1.5, -2], { dtype, requiresGrad: true });
        ops.pow(x, p).sum().backward();
        return x.grad!.toArraySync();
      };
      expect(ops.pow(tensor([0, 1.5], { dtype }), 0).toArraySync()).toEqual([1, 1]);
      expect(grad(0)).toEqual([0, 0, 0, 0]);
      expect(grad(1)).toEqual([1, 1, 1, 1]);
      expect(grad(2)).toEqual([0, -0, 3, -4]);
    }
  });

  it('sigmoid and silu stay finite and exact at large |x|', () => {
    const x = tensor([-800, -40, 40, 800], { dtype: 'float64' });
    expectClose(ops.sigmoid(x).dataSync(), [0, 1 / (1 + Math.exp(40)), 1 / (1 + Math.exp(-40)), 1], { atol: 0, rtol: 1e-15 });
    expect(Array.from(ops.silu(x).dataSync()).every(Number.isFinite)).toBe(true);
  });
});

const binaries = [
  { name: 'add', op: ops.add, f: (x: number, y: number) => x + y },
  { name: 'sub', op: ops.sub, f: (x: number, y: number) => x - y },
  { name: 'mul', op: ops.mul, f: (x: number, y: number) => x * y },
  { name: 'div', op: ops.div, f: (x: number, y: number) => x / y },
] as const;

describe('binary ops with broadcasting', () => {
  for (const c of binaries) {
    it(`${c.name}: forward vs reference, backward vs gradcheck, on broadcasting pairs`, () => {
      fc.assert(fc.property(broadcastPair(3, 4), seed, ([sa, sb], sd) => {
        checkOp({
          shapes: [sa, sb], seed: sd, op: (a, b) => c.op(a, b), ref: (a, b) => zip(a, b, c.f),
          domain: [{}, c.name === 'div' ? { awayFromZero: 0.5 } : {}],
        });
      }));
    });

    it(`${c.name}: only one operand requiring grad`, () => {
      fc.assert(fc.property(broadcastPair(3, 4), seed, fc.boolean(), ([sa, sb], sd, first) => {
        checkOp({
          shapes: [sa, sb], seed: sd, op: (a, b) => c.op(a, b), ref: (a, b) => zip(a, b, c.f),
          domain: [{}, c.name === 'div' ? { awayFromZero: 0.5 } : {}], grad: [first, !first],
        });
      }));
    });

    it(`${c.name}: with a number on either side`, () => {
      fc.assert(fc.property(shape(0, 3, 4), seed, fc.double({ min: 0.5, max: 3, noNaN: true }), (s, sd, k) => {
        const domain = c.name === 'div' ? { awayFromZero: 0.5 } : {};
        checkOp({ shapes: [s], seed: sd, op: (a) => c.op(a, k), ref: (a) => map(a, (v) => c.f(v, k)), domain });
        checkOp({ shapes: [s], seed: sd, op: (a) => c.op(k, a), ref: (a) => map(a, (v) => c.f(k, v)), domain });
      }));
    });
  }

  it('a + b == b + a and a·b == b·a exactly', () => {
    fc.assert(fc.property(broadcastPair(3, 4), seed, ([sa, sb], sd) => {
      const a = randomInput(sa, sd, {}, false).t, b = randomInput(sb, sd + 1, {}, false).t;
      expect(ops.add(a, b).toArraySync()).toEqual(ops.add(b, a).toArraySync());
      expect(ops.mul(a, b).toArraySync()).toEqual(ops.mul(b, a).toArraySync());
      expect(ops.sub(a, b).toArraySync()).toEqual(ops.neg(ops.sub(b, a)).toArraySync());
    }));
  });

  it('broadcasting equals explicit expand, forward and backward', () => {
    fc.assert(fc.property(broadcastPair(3, 4), seed, ([sa, sb], sd) => {
      const a = randomInput(sa, sd).t, b = randomInput(sb, sd + 1).t;
      const out = ops.add(a, b).shape;
      const y1 = ops.mul(a, b);
      expect(y1.dataSync()).toEqual(ops.mul(ops.expand(a, out), ops.expand(b, out)).dataSync());
      expect(Array.from(y1.dataSync())).toEqual(zip(expand(randomInput(sa, sd).ref, out), randomInput(sb, sd + 1).ref, (x, y) => x * y).data);
      y1.sum().backward();
      const [ga, gb] = [a.grad!.dataSync(), b.grad!.dataSync()];
      a.grad = null;
      b.grad = null;
      ops.mul(ops.expand(a, out), ops.expand(b, out)).sum().backward();
      expect(a.grad!.dataSync()).toEqual(ga);
      expect(b.grad!.dataSync()).toEqual(gb);
    }));
  });

  it('float32 forward agrees with the float64 reference to float32 precision', () => {
    fc.assert(fc.property(broadcastPair(3, 4), seed, ([sa, sb], sd) => {
      const a = randomInput(sa, sd, {}, false), b = randomInput(sb, sd + 1, { awayFromZero: 0.5 }, false);
      for (const c of binaries) {
        const y = c.op(ops.cast(a.t, 'float32'), ops.cast(b.t, 'float32'));
        expect(y.dtype).toBe('float32');
        const want = zip(a.ref, b.ref, c.f).data;
        const got = y.dataSync();
        want.forEach((w, i) => expect(Math.abs(got[i]! - w)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(w))));
      }
    }));
  });
});
