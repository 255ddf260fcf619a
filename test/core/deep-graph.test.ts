/**
 * Releasing a graph is not recursive: the output of a chain of a million ops can be dropped by
 * every path — dispose, the end of a scope, the garbage collector, backward — and a running
 * accumulator over a million steps is fine. Saved bytes and live memory return to the baseline.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { getBackend, noGrad, savedStats, scope, tensor, type Tensor } from '../../src/index.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const DEPTH = 1_000_000;
const cpu = getBackend('cpu');
const live = () => ({ bytes: cpu.memory().liveBytes, buffers: cpu.memory().liveBuffers, saved: savedStats().liveBytes });

/** y = tanh(tanh(…tanh(x))) DEPTH deep (each tanh saves its output), the intermediate handles disposed. */
function chain(x: Tensor): Tensor {
  let y = x;
  for (let i = 0; i < DEPTH; i++) {
    const next = y.tanh();
    if (y !== x) y.dispose();
    y = next;
  }
  return y;
}

describe(`a chain of ${DEPTH} ops`, () => {
  const x = tensor([0.5], { requiresGrad: true });
  const baseline = live();

  it('is released when its output is disposed', () => {
    const y = chain(x);
    expect(savedStats().liveBytes - baseline.saved).toBe(DEPTH * 4);
    y.dispose();
    expect(live()).toEqual(baseline);
  });

  it('is released at the end of a scope', () => {
    scope(() => void chain(x));
    expect(live()).toEqual(baseline);
  });

  it('is released by the garbage collector when its output is dropped', async () => {
    (() => void chain(x))(); // the output becomes garbage here, undisposed
    for (let i = 0; i < 10 && live().saved !== baseline.saved; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(live()).toEqual(baseline);
  });

  it('backpropagates through it and then holds nothing', () => {
    const y = chain(x);
    y.backward();
    expect(Number.isFinite(x.grad!.itemSync())).toBe(true);
    x.grad!.dispose();
    x.grad = null;
    y.dispose();
    expect(live()).toEqual(baseline);
  });

  it('is fine as a running accumulator: total = total + loss over a million steps', () => {
    const w = tensor([0.25], { requiresGrad: true });
    let total = tensor([0]);
    for (let i = 0; i < DEPTH; i++) {
      const loss = w.mul(w);
      const next = total.add(loss);
      loss.dispose();
      total.dispose();
      total = next;
    }
    expect(total.itemSync()).toBeCloseTo(DEPTH * 0.0625, 0);
    total.dispose();
    w.dispose();
    expect(noGrad(() => live())).toEqual(baseline);
  });
});
