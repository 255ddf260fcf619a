import { describe, expect, it } from 'vitest';
import { getBackend, measureSaved, ops, tensor, type Tensor } from '../../src/index.ts';
import { buildModule, Module } from '../../src/nn/module.ts';
import { Linear } from '../../src/nn/linear.ts';

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
});
