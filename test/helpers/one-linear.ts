import type { Tensor } from '../../src/index.ts';
import { Linear } from '../../src/nn/linear.ts';
import { Module } from '../../src/nn/module.ts';

/** One float64 Linear [d, o] (seeded) inside a module, so applyAdapters and fullGradients can target it by name ('fc'). */
export class One extends Module {
  fc: Linear;
  constructor(d: number, o: number, s: number) {
    super();
    this.fc = this.registerModule('fc', new Linear(d, o, { dtype: 'float64', seed: s }));
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(x);
  }
}
