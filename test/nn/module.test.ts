import { describe, expect, it } from 'vitest';
import { getBackend, LorafaError, measureSaved, noGrad, ops, randn, tensor, type Tensor } from '../../src/index.ts';
import { buildModule, Module } from '../../src/nn/module.ts';
import { Linear } from '../../src/nn/linear.ts';
import { GPT } from '../../src/nn/transformer.ts';

/** y = tanh(x·w): saves its output under the module's path. */
class Leaf extends Module {
  readonly w = this.registerParameter('w', tensor([[1, 2], [3, 4]], { requiresGrad: true }));
  readonly c = this.registerBuffer('c', tensor([1, 1]), { persistent: false });
  forward(x: Tensor): Tensor {
    return ops.tanh(ops.matmul(x, this.w));
  }
}

/** Wraps another module as its child 'inner' (as an adapter wraps the layer it replaces). */
class Wrapper extends Module {
  constructor(readonly inner: Leaf) {
    super();
    this.registerModule('inner', inner);
  }
  forward(x: Tensor): Tensor {
    return this.inner.forward(x);
  }
}

class Parent extends Module {
  a: Module = this.registerModule('a', new Leaf());
  forward(x: Tensor): Tensor {
    return (this.a.forward as (x: Tensor) => Tensor)(x);
  }
}

describe('Module', () => {
  it('re-scopes a child registered again, so module paths never nest twice', () => {
    const p = new Parent();
    const leaf = p.a as Leaf;
    p.replaceModule('a', new Wrapper(leaf));
    expect(p.a).toBeInstanceOf(Wrapper);
    const { entries } = measureSaved(() => p.forward(tensor([[1, 0]], { requiresGrad: true })));
    expect([...new Set(entries.map((e) => e.module))]).toEqual(['a.inner']);
  });

  it('keeps transient buffers out of stateDict and frees everything on dispose', () => {
    const leaf = new Leaf();
    expect(Object.keys(leaf.stateDict())).toEqual(['w']);
    expect(leaf.namedBuffers().map(([n]) => n)).toEqual(['c']);
    leaf.dispose();
    expect(leaf.w.isDisposed && leaf.c.isDisposed).toBe(true);
  });

  it('buildModule frees the temporaries of initialisation and keeps the weights', () => {
    const cpu = getBackend('cpu');
    const before = cpu.memory().liveBytes;
    const layer = buildModule(() => new Linear(16, 8, { seed: 1 }));
    expect(cpu.memory().liveBytes - before).toBe(4 * (16 * 8 + 8)); // W and b only
    expect(layer.weight.isDisposed).toBe(false);
    layer.dispose();
    expect(cpu.memory().liveBytes).toBe(before);
  });

  it('freeze() / unfreeze() set requiresGrad on every parameter below, buffers stay frozen', () => {
    const p = new Parent();
    expect(p.freeze()).toBe(p);
    expect(p.parameters().map((t) => t.requiresGrad)).toEqual([false]);
    expect(p.trainableParameters()).toEqual([]);
    expect(p.numParameters({ trainable: true })).toBe(0);
    p.unfreeze();
    expect(p.parameters().map((t) => t.requiresGrad)).toEqual([true]);
    expect(p.numParameters({ trainable: true })).toBe(4);
    expect(p.namedBuffers().map(([, b]) => b.requiresGrad)).toEqual([false]);
  });

  it('train(false) / eval() reach every module and turn dropout off; train() turns it back on', () => {
    const model = new GPT({ vocab: 5, dim: 8, heads: 2, layers: 1, context: 4, dropout: 0.5 }, { seed: 1 });
    const x = tensor([[1, 2, 3, 4]], { dtype: 'int32' });
    const run = () => Array.from(noGrad(() => model.forward(x)).dataSync());
    expect(run()).not.toEqual(run()); // training: a new mask each call
    model.train(false);
    expect(model.namedModules().every(([, m]) => !m.training)).toBe(true);
    const off = run();
    expect(run()).toEqual(off);
    model.train();
    expect(model.blocks[0]!.attn.training).toBe(true);
    expect(run()).not.toEqual(off);
    model.eval();
    expect(run()).toEqual(off);
  });

  it('replaceModule refuses an unknown child name, listing the children', () => {
    const p = new Parent();
    expect(() => p.replaceModule('b', new Leaf())).toThrow(LorafaError);
    expect(() => p.replaceModule('b', new Leaf())).toThrow(/replaceModule: no child module named 'b'; children are a/);
    expect(() => new Leaf().replaceModule('x', new Leaf())).toThrow(/children are \(none\)/);
  });

  it('Linear refuses an input whose last axis is not its input width', () => {
    const layer = new Linear(3, 2, { seed: 1 });
    expect(layer.forward(randn([4, 3])).shape).toEqual([4, 2]);
    expect(() => layer.forward(randn([4, 5]))).toThrow(LorafaError);
    expect(() => layer.forward(randn([4, 5]))).toThrow(/Linear: x \[4, 5\] \(float32, cpu\) does not fit: expected the last axis to have 3 features/);
    expect(() => layer.forward(tensor([1], { shape: [] }))).toThrow(/Linear: x \[\] \(float32, cpu\) does not fit/);
  });
});

describe('loadStateDict is all or nothing', () => {
  it('checks every entry before assigning any: one mis-shaped entry leaves every parameter as it was', () => {
    const p = new Parent();
    expect(() => p.loadStateDict({ 'a.w': tensor([1, 2, 3]) })).toThrow(/loadStateDict: 'a.w': source \[3\] \(float32, cpu\) does not fit target \[2, 2\] \(float32, cpu\); expected the same shape and device \(nothing was loaded\)/);
    class Two extends Module {
      readonly x = this.registerParameter('x', tensor([1, 2]));
      readonly y = this.registerParameter('y', tensor([3, 4]));
      forward(t: Tensor): Tensor {
        return t;
      }
    }
    const two = new Two();
    expect(() => two.loadStateDict({ x: tensor([7, 8]), y: tensor([1, 2, 3]) })).toThrow(/'y': source \[3\]/);
    expect([...two.x.dataSync()]).toEqual([1, 2]);
    expect(two.x.version).toBe(0);
    expect(() => two.loadStateDict({ x: [7, 8] as unknown as Tensor, y: tensor([1, 2]) })).toThrow("loadStateDict: 'x' is an array of 2; expected a Tensor");
    expect(() => two.loadStateDict({ x: tensor([7, 8], { dtype: 'int32' }), y: tensor([1, 2]) })).toThrow(/'x': source \[2\] \(int32, cpu\) is not floating point/);
    expect([...two.x.dataSync()]).toEqual([1, 2]);
    two.loadStateDict({ x: tensor([7, 8]), y: tensor([5, 6]) });
    expect([...two.x.dataSync(), ...two.y.dataSync()]).toEqual([7, 8, 5, 6]);
  });

  it("treats names as data: 'constructor' or 'toString' in a state dict is an unexpected name, not a match", () => {
    const p = new Parent();
    const state = { 'a.w': tensor([[1, 2], [3, 4]]), constructor: tensor([1]), toString: tensor([2]) } as unknown as Record<string, Tensor>;
    expect(() => p.loadStateDict(state)).toThrow('loadStateDict: names differ: missing [], unexpected [constructor, toString]');
    expect(p.loadStateDict(state, { strict: false })).toEqual({ missing: [], unexpected: ['constructor', 'toString'] });
  });
});
