/**
 * The leak cases where no backward ever runs, shared by every backend's leak suite: forward-only
 * graphs, a side branch backward never reaches, a scope whose function throws, and ops with
 * hidden constants (add(x, 1), mean, maskedFill) whose outputs are disposed by hand. Each must
 * leave `live()` (the backend's live-buffer count, in whatever form it reports) at the baseline.
 */
import { expect, it } from 'vitest';
import { ops, scope, tensor, type Device, type Tensor } from '../../src/index.ts';

export interface LeakFixture {
  /** x [4, 8] without a gradient, W [8, 8] requiring one (made fresh before each case). */
  x(): Tensor;
  W(): Tensor;
  /** What live() read once x and W existed. */
  baseline(): unknown;
  live(): unknown;
  device: Device;
}

export function graphReleaseCases(f: LeakFixture): void {
  it('frees forward-only graphs (x·W with W requiring grad, no backward) at the end of each scope', () => {
    for (let step = 0; step < 50; step++) {
      scope(() => {
        const y = ops.tanh(ops.matmul(f.x(), f.W())); // matmul saves x and W, tanh its output
        expect(y.requiresGrad).toBe(true);
        ops.sum(ops.mul(y, y));
      });
    }
    expect(f.live()).toEqual(f.baseline());
  });

  it('frees a side branch that backward never reaches', () => {
    const W = f.W();
    scope(() => {
      const h = ops.matmul(f.x(), W);
      ops.exp(ops.mul(h, 2)); // saves its output; no gradient ever flows through it
      ops.sum(ops.tanh(h)).backward();
    });
    expect(W.grad).not.toBeNull();
    W.grad!.dispose();
    W.grad = null;
    expect(f.live()).toEqual(f.baseline());
  });

  it('frees what a throwing scope created, graphs included', () => {
    expect(() => scope(() => {
      ops.tanh(ops.matmul(f.x(), f.W()));
      throw new Error('boom');
    })).toThrow('boom');
    expect(f.live()).toEqual(f.baseline());
  });

  it('frees the hidden constants of add(x, 1), mean and maskedFill once their outputs are disposed', () => {
    const mask = tensor([[1, 0, 0, 1, 0, 0, 0, 1]], { device: f.device });
    const withMask = f.live();
    for (const input of [f.x(), f.W()]) { // without and with a graph
      const outputs = [ops.add(input, 1), ops.mean(input), ops.mean(input, 1), ops.maskedFill(input, mask, -1)];
      for (const t of outputs) t.dispose();
      expect(f.live(), input.requiresGrad ? 'inputs requiring grad' : 'inputs without grad').toEqual(withMask);
    }
    mask.dispose();
    expect(f.live()).toEqual(f.baseline());
  });
}
