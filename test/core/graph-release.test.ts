/**
 * Graphs free themselves: a context's saved tensors are released after backward, or as soon
 * as nothing can backpropagate through it any more (its output disposed, not consumed by a
 * live context) — on every CPU tier. Own file (own process), so no finalizer releases storage
 * between readings.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { getBackend, initCpu, noGrad, ops, randn, savedStats, scope, tensor } from '../../src/index.ts';
import { CPU_TIERS } from '../helpers/cpu-tiers.ts';

const cpu = getBackend('cpu');
const live = () => ({ bytes: cpu.memory().liveBytes, saved: savedStats().liveBytes });

describe.each(CPU_TIERS)('graph release on the $label tier', ({ options }) => {
  beforeAll(() => initCpu(options));

  it('a forward-only graph inside scope() releases its saved tensors: saved bytes and memory back to baseline', () => {
    const x = randn([16, 8], { seed: 1 });
    const W = randn([8, 4], { seed: 2, parameter: true, requiresGrad: true });
    const before = live();
    for (let i = 0; i < 20; i++) scope(() => void ops.sum(ops.tanh(ops.matmul(x, W))));
    expect(live()).toEqual(before);
  });

  it('disposing the output of a graph releases it, but not while a later op still consumes it', () => {
    const x = randn([4, 4], { seed: 3, requiresGrad: true });
    const before = live();
    const h = ops.exp(x); // saves its output
    const t = ops.tanh(h); // saves its output
    const y = t.sum();
    expect(live().saved).toBe(before.saved + 2 * 64);
    h.dispose(); // y's graph still needs the contexts of exp and tanh
    t.dispose();
    expect(live().saved).toBe(before.saved + 2 * 64);
    y.dispose(); // nothing holds the graph now
    expect(live()).toEqual(before);
  });

  it('a side branch that backward never reaches is released when its output is disposed', () => {
    const x = randn([4, 4], { seed: 4, requiresGrad: true });
    const before = live();
    scope(() => {
      const h = ops.tanh(x);
      ops.exp(h); // a branch nobody backpropagates through
      ops.sum(h).backward();
    });
    x.grad!.dispose();
    x.grad = null;
    expect(live()).toEqual(before);
  });

  it('scope(fn) disposes what fn created when fn throws', () => {
    const x = randn([8], { seed: 5 });
    const before = live();
    expect(() => scope(() => {
      ops.tanh(x);
      ops.exp(x);
      throw new Error('boom');
    })).toThrow('boom');
    expect(live()).toEqual(before);
  });

  it('the constants of add(x, 1), where, maskedFill and the intermediates of mean are freed with the result', () => {
    const x = randn([3, 3], { seed: 6, requiresGrad: true });
    const mask = tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const before = live();
    for (const f of [() => ops.add(x, 1), () => ops.mul(2, x), () => ops.mean(x), () => ops.maskedFill(x, mask, 0), () => ops.where(mask, x, 0), () => ops.softmax(x, 0)]) {
      f().dispose();
      expect(live()).toEqual(before);
    }
  });

  it('a second backward through a graph whose ops saved nothing is refused, not silently doubled', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = ops.add(x, 1).sum();
    y.backward();
    expect(() => y.backward()).toThrow(/^sum: backward through a graph that was already freed/);
    expect(x.grad!.toArraySync()).toEqual([1, 1]);
  });

  it('gradients accumulate in place: a reference to .grad taken before a second backward stays valid', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    ops.mul(x, 3).sum().backward();
    const g = x.grad!;
    ops.mul(x, 2).sum().backward();
    expect(x.grad).toBe(g);
    expect(g.toArraySync()).toEqual([5, 5]);
  });

  it('assigning a tensor to itself changes nothing (no version bump)', () => {
    const t = tensor([1, 2]);
    const v = t.version;
    t.assign(t);
    t.assign(t.reshape([2, 1]).reshape([2]));
    expect(t.version).toBe(v);
    expect(t.toArraySync()).toEqual([1, 2]);
  });

  it('noGrad refuses an async fn (ops after its first await would record a graph)', () => {
    expect(() => noGrad(async () => 1)).toThrow(/^noGrad: fn returned a Promise/);
  });

  it('add(x, [1, 2]) names the op and says a tensor or a number was expected', () => {
    const x = tensor([1, 2]);
    expect(() => ops.add(x, [1, 2] as never)).toThrow(/^add: operand b is an array; expected a tensor or a number/);
    expect(() => ops.mul(2 as never, 3 as never)).toThrow(/^mul: both operands are numbers \(2, 3\); expected at least one tensor/);
  });
});
