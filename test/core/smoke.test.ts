import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/index.ts';

describe('smoke', () => {
  it('backpropagates through matmul and tanh', () => {
    const x = tensor([[1, 2]], { dtype: 'float64', requiresGrad: true });
    const w = tensor([[1], [1]], { dtype: 'float64' });
    x.matmul(w).tanh().sum().backward();
    const g = 1 - Math.tanh(3) ** 2;
    expect(x.grad!.toArraySync()).toEqual([[g, g]]);
  });
});
