import { describe, expect, it } from 'vitest';
import { detectAnomaly, isAnomalyDetectionEnabled, ops, setDetectAnomaly, tensor, type Tensor } from '../../src/index.ts';
import { Module } from '../../src/nn/module.ts';

class LogLayer extends Module {
  forward(x: Tensor): Tensor {
    return ops.log(x);
  }
}

class Net extends Module {
  readonly inner = this.registerModule('inner', new LogLayer());
  forward(x: Tensor): Tensor {
    return this.inner.forward(x.mul(2));
  }
}

describe('anomaly detection', () => {
  it('is off by default: a NaN flows on silently', () => {
    expect(isAnomalyDetectionEnabled()).toBe(false);
    expect(Number.isNaN(ops.log(tensor([-1])).itemSync())).toBe(true);
  });

  it('names the first op whose forward produces a NaN or ∞, with its module path and position', () => {
    expect(() => detectAnomaly(() => new Net().forward(tensor([[1, 2], [3, -4]]))))
      .toThrow("log: anomaly detected: forward of 'log' in module 'inner' produced NaN in its output [2, 2] (float32, cpu) at [1, 1] from finite inputs");
    expect(isAnomalyDetectionEnabled()).toBe(false); // restored
  });

  it('says when the inputs were already non-finite', () => {
    expect(() => detectAnomaly(() => ops.exp(tensor([0, NaN]))))
      .toThrow("exp: anomaly detected: forward of 'exp' produced NaN in its output [2] (float32, cpu) at 1 (its inputs already held non-finite values)");
  });

  it('names the op whose backward produces a non-finite gradient', () => {
    const x = tensor([4, 0], { requiresGrad: true });
    const y = ops.sqrt(x).sum(); // d√x/dx = 1/(2√x) = ∞ at 0
    expect(() => detectAnomaly(() => y.backward()))
      .toThrow("sqrt: anomaly detected: backward of 'sqrt' produced Infinity in the gradient for its input 0, [2] (float32, cpu), at 1 from finite inputs");
  });

  it('can be switched on and off for everything that follows', () => {
    setDetectAnomaly(true);
    try {
      expect(() => ops.div(tensor([1]), tensor([0]))).toThrow(/div: anomaly detected: forward of 'div' produced Infinity/);
    } finally {
      setDetectAnomaly(false);
    }
    expect(ops.div(tensor([1]), tensor([0])).itemSync()).toBe(Infinity);
  });
});
