import { describe, expect, it } from 'vitest';
import { keep, measureSaved, nn, ops, randn, scope, type Tensor } from '../../src/index.ts';
import { Module } from '../../src/nn/module.ts';
import { expectClose } from '../helpers/allclose.ts';

const f64 = { dtype: 'float64' } as const;

/** y = tanh(x·W) + z: two tensor inputs, one parameter. */
class Two extends Module {
  readonly W = this.registerParameter('W', randn([3, 4], { ...f64, seed: 1, requiresGrad: true }));
  forward(x: Tensor, z: Tensor): Tensor {
    return ops.add(ops.tanh(ops.matmul(x, this.W)), z);
  }
}

class Parent extends Module {
  readonly child = this.registerModule('child', new Two());
  forward(x: Tensor, z: Tensor): Tensor {
    return this.child.forward(x, z).mul(2);
  }
}

describe('forward hooks', () => {
  it('see the inputs and the output of every call, in registration order, until removed', () => {
    const m = new Two();
    const seen: string[] = [];
    const x = randn([2, 3], { ...f64, seed: 2 }), z = randn([2, 4], { ...f64, seed: 3 });
    const h1 = m.registerForwardHook((module, inputs, output) => {
      expect(module).toBe(m);
      expect(inputs).toEqual([x, z]);
      seen.push(`first ${output.shape.join('x')}`);
    });
    m.registerForwardHook(() => void seen.push('second'));
    m.forward(x, z);
    h1.remove();
    h1.remove(); // a second remove does nothing
    m.forward(x, z);
    expect(seen).toEqual(['first 2x4', 'second', 'second']);
  });

  it('replace the output when they return a tensor, and the graph follows the replacement', () => {
    const m = new Two();
    m.registerForwardHook((_m, _inputs, y) => ops.mul(y, 3));
    const x = randn([2, 3], { ...f64, seed: 2 }), z = randn([2, 4], { ...f64, seed: 3 });
    const y = m.forward(x, z);
    const plain = new Two();
    expectClose(y.dataSync(), ops.mul(plain.forward(x, z), 3).dataSync(), { atol: 1e-15 });
    y.sum().backward();
    const expected = randn([3, 4], { ...f64, seed: 1, requiresGrad: true });
    ops.add(ops.tanh(ops.matmul(x, expected)), z).mul(3).sum().backward();
    expectClose(m.W.grad!.dataSync(), expected.grad!.dataSync(), { atol: 1e-14 });
  });
});

describe('full backward hooks', () => {
  it('receive ∂L/∂output and ∂L/∂input for each tensor input that requires grad (null for the others), once per backward', () => {
    const m = new Parent();
    const x = randn([2, 3], { ...f64, seed: 4, requiresGrad: true });
    const z = randn([2, 4], { ...f64, seed: 5 });
    const calls: { gradInputs: (number[] | null)[]; gradOutput: number[] }[] = [];
    m.child.registerFullBackwardHook((module, gradInputs, gradOutputs) => {
      expect(module).toBe(m.child);
      calls.push({ gradInputs: gradInputs.map((g) => g && [...g.dataSync()]), gradOutput: [...gradOutputs[0]!.dataSync()] });
    });
    m.forward(x, z).sum().backward();
    expect(calls).toHaveLength(1);
    // L = Σ 2·(tanh(xW) + z): ∂L/∂y = 2, ∂L/∂x = (2·(1 − tanh²(xW)))·Wᵀ (= x.grad)
    expect(calls[0]!.gradOutput).toEqual(new Array(8).fill(2));
    expect(calls[0]!.gradInputs[1]).toBeNull();
    expectClose(calls[0]!.gradInputs[0]!, x.grad!.dataSync(), { atol: 1e-15 });
  });

  it('fire when no input requires grad, and never when nothing is recorded', () => {
    const m = new Two();
    let calls = 0;
    m.registerFullBackwardHook(() => void calls++);
    m.forward(randn([2, 3], { ...f64, seed: 6 }), randn([2, 4], { ...f64, seed: 7 })).sum().backward();
    expect(calls).toBe(1);
    m.W.requiresGrad = false;
    const y = m.forward(randn([2, 3], { ...f64, seed: 6 }), randn([2, 4], { ...f64, seed: 7 }));
    expect(y.requiresGrad).toBe(false);
    expect(calls).toBe(1);
  });

  it('let a hook keep what it computes (the engine frees the rest), and cost no saved bytes', () => {
    const m = new Two();
    const plainBytes = measureSaved(() => new Two().forward(randn([2, 3], f64), randn([2, 4], f64))).bytes;
    let kept: Tensor | null = null;
    m.registerFullBackwardHook((_m, _gi, [dY]) => {
      kept = keep(ops.mul(dY!, 1));
    });
    const x = randn([2, 3], { ...f64, requiresGrad: true }), z = randn([2, 4], f64);
    const { bytes, result } = measureSaved(() => m.forward(x, z));
    expect(bytes).toBe(plainBytes);
    scope(() => result.sum().backward());
    expect(kept!.isDisposed).toBe(false);
    expect([...kept!.dataSync()]).toEqual(new Array(8).fill(1));
  });

  it('work on the library layers: a Linear inside a model reports dY = ∂L/∂(its output)', () => {
    const lin = new nn.Linear(3, 2, { dtype: 'float64', seed: 1 });
    let dY: number[] = [];
    lin.registerFullBackwardHook((_m, _gi, [g]) => {
      dY = [...g!.dataSync()];
    });
    const x = randn([4, 3], { ...f64, seed: 8 });
    lin.forward(x).pow(2).sum().backward(); // ∂L/∂y = 2y
    const y = lin.forward(x).dataSync();
    expectClose(dY, [...y].map((v) => 2 * v), { atol: 1e-14 });
  });
});
