import { describe, expect, it } from 'vitest';
import { Context, Function, gradcheck, isGradEnabled, keep, measureSaved, noGrad, ops, scope, tensor, zeros, type Tensor } from '../../src/index.ts';
import { randomInput } from '../helpers/check-op.ts';

const f64 = (data: number[] | number[][], requiresGrad = true) => tensor(data, { dtype: 'float64', requiresGrad });

describe('backward', () => {
  it('a scalar output seeds 1; a non-scalar needs a gradient', () => {
    const x = f64([1, 2, 3]);
    ops.mul(x, x).sum().backward();
    expect(x.grad!.toArraySync()).toEqual([2, 4, 6]);
    const y = ops.mul(x, 3);
    expect(() => y.backward()).toThrow(/backward: output \[3\] \(float64, cpu\) is not a scalar; pass a gradient of the same shape/);
    y.backward(f64([1, 0, 2], false));
    expect(x.grad!.toArraySync()).toEqual([5, 4, 12]);
  });

  it('accumulates into .grad across backward calls, and within one graph where a tensor is used twice', () => {
    const x = f64([1, -2]);
    const h = ops.tanh(x);
    const y = ops.add(ops.mul(h, h), h).sum(); // diamond: h feeds mul twice and add
    y.backward(undefined, { retainGraph: true });
    const once = x.grad!.dataSync();
    const want = [1, -2].map((v) => (2 * Math.tanh(v) + 1) * (1 - Math.tanh(v) ** 2));
    once.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 14));
    y.backward();
    x.grad!.dataSync().forEach((g, i) => expect(g).toBeCloseTo(2 * want[i]!, 14));
  });

  it('an op whose backward passes its gradient to several inputs (x + x, x + h) gives each its own', () => {
    const x = f64([1, 2]);
    ops.add(x, x).sum().backward();
    expect(x.grad!.toArraySync()).toEqual([2, 2]);
    const w = f64([3, 4]);
    const h = ops.mul(w, 2);
    ops.add(ops.reshape(h, [2, 1]), ops.reshape(w, [2, 1])).sum().backward();
    expect(w.grad!.toArraySync()).toEqual([3, 3]);
  });

  it('a second backward through a freed graph throws; retainGraph allows it', () => {
    const x = f64([0.5]);
    const y = ops.tanh(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(x.grad!.itemSync()).toBeCloseTo(2 * (1 - Math.tanh(0.5) ** 2), 14);
    expect(() => y.backward()).toThrow(/^sum: backward through a graph that was already freed \(by an earlier backward, or because its output was disposed\); pass \{ retainGraph: true \}/);
    expect(x.grad!.itemSync()).toBeCloseTo(2 * (1 - Math.tanh(0.5) ** 2), 14); // unchanged by the refused backward
  });

  it('a leaf root receives a copy of the gradient, not the caller\'s tensor', () => {
    const x = f64([1, 2]);
    const g = f64([3, 4], false);
    x.backward(g);
    expect(x.grad).not.toBe(g);
    const y = ops.reshape(x, [2, 1]);
    const g2 = tensor([[1], [1]], { dtype: 'float64' });
    y.backward(g2);
    g2.assign(tensor([[100], [100]], { dtype: 'float64' }));
    expect(x.grad!.toArraySync()).toEqual([4, 5]);
  });

  it('leaves that require no grad get none; ops on them record nothing', () => {
    const x = f64([1, 2]), c = f64([3, 4], false);
    const y = ops.mul(x, c).sum();
    y.backward();
    expect(c.grad).toBeNull();
    const z = ops.mul(c, c);
    expect(z.requiresGrad).toBe(false);
    expect(z.gradFn).toBeNull();
  });

  it('a saved tensor changed in place before backward is an error naming the op and versions', () => {
    const x = f64([0.1, 0.2]);
    const y = ops.tanh(x); // saves y
    y.assign(f64([0, 0], false));
    expect(() => y.sum().backward()).toThrow(/^tanh: a tensor saved for backward, \[2\] \(float64, cpu\) was modified in place after it was saved \(version 1, saved at version 0\)/);
    const z = ops.exp(x);
    z.reshape([2, 1]).markModified(); // a view shares the version
    expect(() => z.sum().backward()).toThrow(/exp: .*modified in place/);
  });

  it('gradcheck reports failure for a wrong backward', () => {
    class BadSquare extends Function {
      static override readonly opName = 'badSquare';
      static override forward(ctx: Context, x: Tensor): Tensor {
        ctx.saveForBackward(x);
        return ops.mul(x, x);
      }
      static override backward(ctx: Context, g: Tensor) {
        return [ops.mul(g, ctx.savedTensors[0]!)]; // should be 2·x·g
      }
    }
    const x = randomInput([3], 1).t;
    const r = gradcheck((t) => BadSquare.apply(t), [x]);
    expect(r.ok).toBe(false);
    expect(r.worst!.analytic * 2).toBeCloseTo(r.worst!.numeric, 6);
    expect(gradcheck((t) => ops.mul(t, t), [x]).ok).toBe(true);
  });

  it('gradcheck of a function that returns its input unchanged leaves the input usable', () => {
    const x = randomInput([3], 2).t;
    expect(gradcheck((t) => ops.dropout(t, 0), [x]).ok).toBe(true);
    expect(x.isDisposed).toBe(false);
  });
});

describe('noGrad and detach', () => {
  it('noGrad records nothing and saves nothing', () => {
    const x = f64([1, 2]);
    const r = measureSaved(() => noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return ops.tanh(ops.mul(x, x));
    }));
    expect(isGradEnabled()).toBe(true);
    expect(r.result.requiresGrad).toBe(false);
    expect(r.result.gradFn).toBeNull();
    expect(r.entries).toEqual([]);
    expect(() => r.result.sum().backward()).toThrow(/^backward: tensor \[\] \(float64, cpu\) does not require grad/);
  });

  it('detach shares data but cuts the graph', () => {
    const x = f64([1, 2]);
    const h = ops.mul(x, 3);
    const d = h.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.gradFn).toBeNull();
    expect(d.storage).toBe(h.storage);
    ops.add(ops.mul(d, x), h).sum().backward(); // d·x + 3x: dx = d + 3
    expect(x.grad!.toArraySync()).toEqual([6, 9]);
  });
});

describe('scope and dispose', () => {
  it('scope disposes intermediates, keeps returned tensors (nested in objects) and .grad', () => {
    const x = f64([1, 2]);
    let inner: Tensor | null = null;
    const out = scope(() => {
      inner = ops.exp(x);
      const kept = keep(ops.mul(x, 2));
      const y = ops.mul(inner, x).sum();
      y.backward();
      return { y, list: [kept] };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(out.y.isDisposed).toBe(false);
    expect(out.list[0]!.isDisposed).toBe(false);
    expect(x.grad!.isDisposed).toBe(false);
    expect(x.grad!.dataSync()[0]).toBeCloseTo(2 * Math.E, 14);
  });

  it('nested scopes hand returned tensors to the enclosing scope', () => {
    let mid: Tensor | null = null;
    scope(() => {
      mid = scope(() => ops.add(zeros([2]), 1));
      expect(mid.isDisposed).toBe(false);
    });
    expect(mid!.isDisposed).toBe(true);
  });

  it('a tensor cannot be used after dispose (ops, reads, backward)', () => {
    const x = f64([1, 2]);
    const y = ops.mul(x, 2);
    y.dispose();
    y.dispose(); // idempotent
    expect(y.isDisposed).toBe(true);
    expect(() => ops.exp(y)).toThrow(/^exp: input \[2\] \(float64, cpu\) was disposed; a tensor cannot be used after dispose\(\)/);
    expect(() => y.dataSync()).toThrow(/^dataSync: .*was disposed/);
    expect(() => y.toArraySync()).toThrow(/was disposed/);
    expect(() => y.backward(f64([1, 1], false))).toThrow(/^backward: .*was disposed/);
    expect(() => ops.matmul(y.reshape([1, 2]), y.reshape([2, 1]))).toThrow(/^reshape: .*was disposed/);
  });

  it('backward still works after the handles of saved inputs are disposed', () => {
    const x = f64([0.3, 0.4]);
    const h = ops.mul(x, 2);
    const y = ops.log(h); // saves h
    h.dispose();
    y.sum().backward();
    expect(x.grad!.dataSync()[0]).toBeCloseTo(1 / 0.3, 12);
  });
});
