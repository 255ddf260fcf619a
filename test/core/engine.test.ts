/**
 * The backward engine's edges, each one a mutant that survived the rest of the suite
 * (docs/verification.md): the caller's gradient checked before use, gradients computed without
 * recording a graph, non-finite gradients passed on silently outside anomaly mode, a missing
 * gradient named, a returned gradient adopted by the leaf without a copy, and every gradient the
 * engine holds freed. Own file (own process), so live bytes are not disturbed by other files.
 */
import { describe, expect, it } from 'vitest';
import { Context, detectAnomaly, Function, getBackend, keep, measureSaved, ops, savedStats, scope, Tensor, tensor } from '../../src/index.ts';
import { CpuBackend } from '../../src/backends/cpu/cpu-backend.ts';

const cpu = getBackend('cpu');
const f64 = (v: number[], requiresGrad = true) => tensor(v, { dtype: 'float64', requiresGrad });

/** zeros [n] in float64 on a stand-in device: the CPU kernels under another name. */
function standIn(n: number): Tensor {
  const other = new CpuBackend();
  Object.defineProperty(other, 'device', { value: 'webgpu' });
  return new Tensor(other.upload(new Float64Array(n)), [n]);
}

/** y = 2·x whose backward hands back what `grad` returns for g. */
function doubling(grad: (g: Tensor) => (Tensor | null)[]) {
  return class Doubling extends Function {
    static override readonly opName = 'doubling';
    static override forward(_ctx: Context, x: Tensor): Tensor {
      return ops.mul(x, 2);
    }
    static override backward(_ctx: Context, g: Tensor) {
      return grad(g);
    }
  };
}

describe('backward', () => {
  it('refuses a disposed gradient, naming backward', () => {
    const y = ops.mul(f64([1, 2]), 3);
    const g = f64([1, 1], false);
    g.dispose();
    expect(() => y.backward(g)).toThrow(/^backward: input \[2\] \(float64, cpu\) was disposed/);
  });

  it('computes gradients without recording a graph: x.grad has no gradFn and needs no gradient', () => {
    const x = f64([1, -2, 3]);
    ops.sum(ops.mul(x, x)).backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([2, -4, 6]);
    expect(x.grad!.requiresGrad).toBe(false);
    expect(x.grad!.gradFn).toBeNull();
  });

  it('outside anomaly mode a non-finite output or gradient is passed on, not refused', () => {
    const x = f64([0, 4]);
    ops.sum(ops.sqrt(x)).backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([Infinity, 0.25]);
    expect(Array.from(ops.log(x).dataSync())).toEqual([-Infinity, Math.log(4)]);
  });

  it('refuses a gradient on another device than the output', () => {
    const y = ops.mul(f64([1, 2]), 3);
    expect(() => y.backward(standIn(2))).toThrow(/^backward: gradient \[2\] \(float64, webgpu\) does not match output \[2\] \(float64, cpu\)/);
  });

  it('names an op whose backward returns no gradient for an input that needs one', () => {
    const Op = doubling(() => []);
    const y = Op.apply(f64([1, 2]));
    expect(() => ops.sum(y).backward()).toThrow(/^doubling: backward returned no gradient for input 0, which needs one/);
  });

  it('hands the gradient a backward returns to the leaf as it is: no copy', () => {
    let returned: Tensor | null = null;
    const Op = doubling((g) => [(returned = ops.mul(g, 2))]);
    const x = f64([1, 2]);
    ops.sum(Op.apply(x)).backward();
    expect(x.grad).toBe(returned);
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 2]);
  });

  it('frees every gradient it held: after disposing outputs and .grad, live bytes are back where they were', () => {
    const x = f64([1, 2, 3]);
    const c = f64([4, 5, 6], false);
    const before = cpu.memory().liveBytes;
    const m = ops.mul(x, c);
    const y = ops.sum(m);
    y.backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([4, 5, 6]);
    for (const t of [x.grad!, m, y]) t.dispose();
    expect(cpu.memory().liveBytes).toBe(before);
  });
});

describe('backward into leaves', () => {
  it('a leaf that stopped requiring a gradient after forward gets none, and the gradient is freed', () => {
    const x = f64([1, 2]);
    const before = cpu.memory().liveBytes;
    const m = ops.mul(x, 3);
    const y = ops.sum(m);
    x.requiresGrad = false;
    y.backward();
    expect(x.grad).toBeNull();
    for (const t of [m, y]) t.dispose();
    expect(cpu.memory().liveBytes).toBe(before);
  });

  it('names an op whose backward returns a gradient of the wrong shape for a leaf', () => {
    const Op = doubling(() => [f64([1, 2, 3], false)]);
    const y = Op.apply(f64([1, 2]));
    expect(() => ops.sum(y).backward()).toThrow(/^doubling: backward produced a gradient of shape \[3\] for input 0 of shape \[2\]/);
  });
});

describe('saveForBackward', () => {
  it('forward runs without recording: only what the op itself saves is counted', () => {
    class Square extends Function {
      static override readonly opName = 'square';
      static override forward(ctx: Context, x: Tensor): Tensor {
        ctx.saveForBackward(x);
        return ops.mul(x, x); // would save x twice more if forward recorded a graph
      }
      static override backward(ctx: Context, g: Tensor) {
        return [ops.mul(ops.mul(g, ctx.savedTensors[0]!), 2)];
      }
    }
    const x = f64([1, 2]);
    const rep = measureSaved(() => Square.apply(x));
    expect(rep.entries.map((e) => [e.op, e.bytes])).toEqual([['square', 16]]);
    expect(rep.result.gradFn!.opName).toBe('square');
  });

  it('keeps a null slot null, and a saved tensor outlives the scope the forward ran in', () => {
    let seen: unknown[] = [];
    class SaveOp extends Function {
      static override readonly opName = 'saveOp';
      static override forward(ctx: Context, x: Tensor): Tensor {
        ctx.saveForBackward(null, x);
        return ops.mul(x, 2);
      }
      static override backward(ctx: Context, g: Tensor) {
        const [none, x] = ctx.savedTensors;
        seen = [none, Array.from(x!.dataSync())];
        return [ops.mul(g, 2)];
      }
    }
    const x = f64([1, 2]);
    const y = scope(() => keep(ops.sum(SaveOp.apply(ops.mul(x, 1)))));
    y.backward();
    expect(seen).toEqual([null, [1, 2]]);
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 2]);
  });
});

describe('releasing a graph without backward', () => {
  it('dropping the last output releases the contexts it held, and only those no one else holds', () => {
    const x = f64([0.5, -1]);
    const before = savedStats().liveBytes;
    const a = ops.exp(x); //   saves its output
    const b = ops.exp(a); //   holds a's context
    const c = ops.tanh(a); //  holds it too
    b.dispose();
    c.dispose(); //            a's handle still holds its context: backward through a works
    ops.sum(a).backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([Math.exp(0.5), Math.exp(-1)]);
    const inner = ops.exp(x);
    const d = ops.exp(inner);
    inner.dispose(); //        now only d's context holds inner's, and d's release must cascade to it
    expect(savedStats().liveBytes).toBeGreaterThan(before);
    d.dispose();
    a.dispose();
    expect(savedStats().liveBytes).toBe(before);
  });

  it('after a backward that failed midway, dropping the outputs frees what the contexts it never reached saved', () => {
    const x = f64([4, 1]);
    const before = savedStats().liveBytes;
    const h = ops.exp(x); //                saves its output: reached by no backward below
    const t = ops.sub(h, Math.exp(1));
    const s = ops.sqrt(t); //               saves its output; its gradient 1/(2√t) is ∞ at x = 1
    const y = ops.sum(s); //                released by backward, which then fails at sqrt
    expect(() => detectAnomaly(() => y.backward())).toThrow(/^sqrt: anomaly detected/);
    expect(savedStats().liveBytes).toBeGreaterThan(before);
    y.dispose(); //                         sum's context, already released, lets go of sqrt's
    s.dispose();
    t.dispose();
    h.dispose();
    expect(savedStats().liveBytes).toBe(before);
  });
});

describe('apply', () => {
  it('an op without forward or backward says which is missing', () => {
    class NoForward extends Function {
      static override readonly opName = 'noForward';
    }
    class NoBackward extends Function {
      static override readonly opName = 'noBackward';
      static override forward(_ctx: Context, x: Tensor): Tensor {
        return ops.mul(x, 2);
      }
    }
    expect(() => NoForward.apply(f64([1]))).toThrow('noForward: forward is not implemented');
    const y = NoBackward.apply(f64([1]));
    expect(y.gradFn!.isReleased).toBe(false);
    expect(() => y.backward()).toThrow('noBackward: backward is not implemented');
  });

  it('refuses inputs on two devices, naming the op', () => {
    expect(() => ops.add(f64([1, 2]), standIn(2))).toThrow(/^add: inputs are on different devices: \[2\] \(float64, cpu\) and \[2\] \(float64, webgpu\)/);
  });
});
