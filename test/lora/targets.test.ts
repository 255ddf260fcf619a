import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/index.ts';
import { findTargets, maxAdapterRank } from '../../src/lora/targets.ts';
import { Linear } from '../../src/nn/linear.ts';
import { Module } from '../../src/nn/module.ts';
import { GPT } from '../../src/nn/transformer.ts';

/** Two Linear layers of different shapes ('wide' [3, 9], 'tall' [7, 2]) and a module holding no Linear. */
class Two extends Module {
  wide: Linear;
  tall: Linear;
  constructor() {
    super();
    this.wide = this.registerModule('wide', new Linear(3, 9, { seed: 1 }));
    this.tall = this.registerModule('tall', new Linear(7, 2, { seed: 2 }));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}
class Empty extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

describe('maxAdapterRank', () => {
  it('is min(d, o) over the targeted layers only', () => {
    expect(maxAdapterRank(new Two(), ['wide'])).toBe(3); // min(3, 9)
    expect(maxAdapterRank(new Two(), ['tall'])).toBe(2); // min(7, 2)
    expect(maxAdapterRank(new Two(), ['wide', 'tall'])).toBe(2);
    expect(maxAdapterRank(new Two(), /^wide$/)).toBe(3);
    // the default targets of a GPT: every q, k, v, o, up, down is at least dim wide
    expect(maxAdapterRank(new GPT({ vocab: 7, dim: 8, heads: 2, layers: 1, context: 4 }, { seed: 1 }))).toBe(8);
  });

  it('refuses targets that match nothing, naming itself, the targets and the Linear layers', () => {
    expect(() => maxAdapterRank(new Two(), ['q'])).toThrow('maxAdapterRank: no Linear layer matches targets [q]; the Linear layers are wide, tall');
    expect(() => maxAdapterRank(new Two(), ['q', 'z'])).toThrow('no Linear layer matches targets [q, z];');
    expect(() => maxAdapterRank(new Two(), /^x/)).toThrow('maxAdapterRank: no Linear layer matches targets /^x/; the Linear layers are wide, tall');
  });
});

describe('findTargets', () => {
  it('says "(none)" for a model without Linear layers', () => {
    expect(() => findTargets('inject', new Empty(), ['q'])).toThrow('inject: no Linear layer matches targets [q]; the Linear layers are (none)');
  });

  it('tests a /g pattern from the start of every path', () => {
    const found = findTargets('inject', new Two(), /l/g); // 'wide' has no l; 'tall' has two
    expect(found.map((t) => t.path)).toEqual(['tall']);
    expect(findTargets('inject', new Two(), /a/g).map((t) => t.path)).toEqual(['tall']);
    expect(findTargets('inject', new Two(), /[wt]/g).map((t) => t.path)).toEqual(['wide', 'tall']);
  });
});
