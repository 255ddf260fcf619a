/**
 * Deep graphs on WebGPU: the release paths of test/core/deep-graph.test.ts with GPU storages. The
 * million-op chains are reshapes (views: real autograd contexts, no kernel launch, so llvmpipe's
 * ~60 µs per dispatch does not make the test take minutes); the accumulator dispatches two kernels
 * a step and runs 10⁵ steps.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { savedStats, scope, tensor, type Tensor } from '../../src/index.ts';
import { skipReason, webgpu } from './gpu.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const DEPTH = 1_000_000;

/** x reshaped DEPTH times ([2, 2] ↔ [4]), the intermediate handles disposed. */
function chain(x: Tensor): Tensor {
  let y = x;
  for (let i = 0; i < DEPTH; i++) {
    const next = y.reshape(i % 2 ? [2, 2] : [4]);
    if (y !== x) y.dispose();
    y = next;
  }
  return y;
}

describe.skipIf(!webgpu)(`deep graphs on WebGPU ${skipReason}`, () => {
  const gpu = webgpu!;
  const x = tensor([[1, 2], [3, 4]], { device: 'webgpu', requiresGrad: true });
  const live = () => ({ buffers: gpu.memory().liveBuffers, bytes: gpu.memory().liveBytes, saved: savedStats().liveBytes });
  const baseline = live();

  it(`a chain of ${DEPTH} ops is released by dispose, by the end of a scope and by the garbage collector`, async () => {
    chain(x).dispose();
    expect(live()).toEqual(baseline);
    scope(() => void chain(x));
    expect(live()).toEqual(baseline);
    (() => void chain(x))();
    for (let i = 0; i < 10 && live().buffers !== baseline.buffers; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(live()).toEqual(baseline);
  });

  it(`backpropagates through a chain of ${DEPTH} ops and then holds nothing`, async () => {
    const y = chain(x);
    const s = y.sum();
    s.backward();
    s.dispose();
    expect(await x.grad!.toArray()).toEqual([[1, 1], [1, 1]]);
    x.grad!.dispose();
    x.grad = null;
    y.dispose();
    expect(live()).toEqual(baseline);
  });

  it('runs an accumulator total = total + loss over 10⁵ steps', async () => {
    const w = tensor([0.25], { device: 'webgpu', requiresGrad: true });
    let total = tensor([0], { device: 'webgpu' });
    for (let i = 0; i < 100_000; i++) {
      const loss = w.mul(w);
      const next = total.add(loss);
      loss.dispose();
      total.dispose();
      total = next;
    }
    expect(await total.item()).toBe(6250);
    total.dispose();
    w.dispose();
    expect(live()).toEqual(baseline);
  });
});
