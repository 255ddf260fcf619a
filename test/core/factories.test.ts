import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arange, eye, full, LorafaError, ones, tensor, zeros, type NestedArray } from '../../src/index.ts';
import { shape } from '../helpers/arbitraries.ts';
import { randomValues } from '../helpers/check-op.ts';

/** values as nested arrays of shape (a number at rank 0), built with plain loops. */
function nest(values: number[], s: readonly number[]): NestedArray {
  if (s.length === 0) return values[0]!;
  const inner = s.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: s[0]! }, (_, i) => nest(values.slice(i * inner, (i + 1) * inner), s.slice(1)));
}

describe('tensor()', () => {
  it('nested arrays round-trip through toArray for rank 0..3, zero-size included', async () => {
    const arb = shape(0, 3, 4).chain((s) => fc.tuple(fc.constant(s), fc.array(fc.nat(), { minLength: s.length, maxLength: s.length })));
    await fc.assert(fc.asyncProperty(arb, async ([s0, zero]) => {
      const s = s0.map((d, i) => (zero[i]! % 5 === 0 ? 0 : d)); // some axes of size 0
      const values = randomValues(s.reduce((a, b) => a * b, 1), 1).map(Math.fround);
      const t = tensor(nest(values, s));
      // a size-0 axis hides the sizes after it from nested arrays
      const firstZero = s.indexOf(0);
      expect(t.shape).toEqual(firstZero < 0 ? s : s.slice(0, firstZero + 1));
      expect(t.dtype).toBe('float32');
      expect(t.size).toBe(values.length);
      expect(t.toArraySync()).toEqual(nest(values, t.shape));
      expect(await t.toArray()).toEqual(nest(values, t.shape));
      const flat = tensor(values, { shape: s, dtype: 'float64' });
      expect(flat.shape).toEqual(s);
      expect(flat.toArraySync()).toEqual(nest(values, s));
    }));
  });

  it('typed arrays keep their dtype unless one is given; data is copied', () => {
    const src = new Float64Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(src, { shape: [2, 3] });
    expect(t.dtype).toBe('float64');
    src[0] = 100;
    expect(t.toArraySync()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(new Int32Array([1, 2])).dtype).toBe('int32');
    expect(tensor(new Float32Array([0.1])).dataSync()).toEqual(new Float32Array([0.1]));
    expect(tensor(new Float64Array([0.1]), { dtype: 'float32' }).dataSync()).toEqual(new Float32Array([0.1]));
    expect(tensor([1.9, -2.5], { dtype: 'int32' }).toArraySync()).toEqual([1, -2]);
    expect(tensor(new Float32Array([7])).shape).toEqual([1]);
  });

  it('a number with an explicit shape: rank 0 or any one-element shape', () => {
    expect(tensor(2, { shape: [] }).toArraySync()).toBe(2);
    expect(tensor(3, { shape: [1, 1] }).toArraySync()).toEqual([[3]]);
    expect(() => tensor(3, { shape: [2] })).toThrow(/^tensor: data has 1 elements but shape \[2\] needs 2/);
  });

  it('item and itemSync of one-element tensors of any rank', async () => {
    expect(tensor(3.5).shape).toEqual([]);
    expect(tensor(3.5).itemSync()).toBe(3.5);
    expect(await tensor([[2.25]]).item()).toBe(2.25);
    expect(tensor([[[-1]]], { dtype: 'float64' }).itemSync()).toBe(-1);
  });

  it('requiresGrad and parameter flags', () => {
    const t = tensor([1], { requiresGrad: true, parameter: true });
    expect(t.requiresGrad).toBe(true);
    expect(t.isParameter).toBe(true);
    expect(t.isLeaf).toBe(true);
    expect(t.grad).toBeNull();
  });
});

describe('zeros, ones, full, arange, eye', () => {
  it('fill values with the requested dtype', () => {
    expect(zeros([2, 2]).toArraySync()).toEqual([[0, 0], [0, 0]]);
    expect(ones([3], { dtype: 'float64' }).toArraySync()).toEqual([1, 1, 1]);
    expect(full([2], 0.1).dataSync()).toEqual(new Float32Array([0.1, 0.1]));
    expect(full([], 7, { dtype: 'int32' }).toArraySync()).toBe(7);
    expect(zeros([0, 3]).toArraySync()).toEqual([]);
    expect(zeros([3, 0]).toArraySync()).toEqual([[], [], []]);
  });

  it('arange(n), arange(start, end, step) with fractional and negative steps', () => {
    expect(arange(5).toArraySync()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(2, 5).toArraySync()).toEqual([2, 3, 4]);
    expect(arange(5, 0, -2).toArraySync()).toEqual([5, 3, 1]);
    expect(arange(0, 1, 0.25, { dtype: 'float64' }).toArraySync()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(3, 3).shape).toEqual([0]);
    expect(arange(3, 0).shape).toEqual([0]);
    expect(arange(4, undefined, 1, { dtype: 'int32' }).dtype).toBe('int32');
  });

  it('eye(n) and eye(n, m)', () => {
    expect(eye(3).toArraySync()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(eye(2, 3, { dtype: 'float64' }).toArraySync()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(eye(3, 1).toArraySync()).toEqual([[1], [0], [0]]);
    expect(eye(0).shape).toEqual([0, 0]);
  });
});

describe('Tensor basics', () => {
  it('to("cpu") is a new leaf with the same values, shape, dtype and flags', async () => {
    const t = tensor([[1, 2]], { dtype: 'float64', requiresGrad: true, parameter: true });
    t.name = 'w';
    const c = await t.to('cpu');
    expect(c).not.toBe(t);
    expect(c.storage).not.toBe(t.storage);
    expect([c.shape, c.dtype, c.device, c.requiresGrad, c.isParameter, c.name]).toEqual([[1, 2], 'float64', 'cpu', true, true, 'w']);
    expect(c.toArraySync()).toEqual([[1, 2]]);
  });

  it('shape is frozen; size, rank and toString describe the tensor', () => {
    const t = zeros([2, 3], { requiresGrad: true });
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect([t.size, t.rank]).toEqual([6, 2]);
    expect(String(t)).toBe('Tensor([2, 3] (float32, cpu), requiresGrad)');
  });

  it('assign copies values in place and bumps the version shared with views', () => {
    const t = zeros([2, 2]);
    const v = t.reshape([4]);
    t.assign(ones([2, 2]));
    expect(v.toArraySync()).toEqual([1, 1, 1, 1]);
    expect([t.version, v.version]).toEqual([1, 1]);
  });
});

describe('tensor() refuses what it cannot represent', () => {
  const err = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(LorafaError);
      return (e as Error).message;
    }
    throw new Error('expected an error');
  };

  it('holes, booleans, strings, objects and nesting deeper than 64 axes', () => {
    expect(err(() => tensor([1, , 3] as never))).toBe('tensor: element [1] is a hole (an array like [1, , 3]); expected a number');
    expect(err(() => tensor([[1, 2], [3, true]] as never))).toBe('tensor: element [1][1] is the boolean true; expected a number');
    expect(err(() => tensor('12' as never))).toBe('tensor: element (root) is the string "12"; expected a number');
    expect(err(() => tensor({ length: 2 } as never, { shape: [2] }))).toBe('tensor: data is an object with keys [length]; expected a number, an array of numbers or a typed array');
    let deep: unknown = 1;
    for (let i = 0; i < 65; i++) deep = [deep];
    expect(err(() => tensor(deep as never))).toBe('tensor: nested arrays more than 64 levels deep; expected at most 64 axes');
  });

  it('integers out of int32 range (and NaN, ±∞) instead of wrapping them; fractions truncate as in PyTorch', () => {
    expect(err(() => tensor([1, 3e9], { dtype: 'int32' }))).toBe('tensor: value 3000000000 at position 1 does not fit int32; expected a number in [-2147483648, 2147483647]');
    expect(err(() => tensor(new Float64Array([NaN]), { dtype: 'int32' }))).toMatch(/^tensor: value NaN at position 0 does not fit int32/);
    expect(err(() => tensor([[0], [-Infinity]], { dtype: 'int32' }))).toMatch(/^tensor: value -Infinity at position \[1, 0\] does not fit int32/);
    expect(err(() => full([2], 2 ** 31, { dtype: 'int32' }))).toMatch(/^full: value 2147483648 at position 0 does not fit int32/);
    expect(err(() => arange(2 ** 31 - 1, 2 ** 31 + 1, 1, { dtype: 'int32' }))).toMatch(/^arange: value 2147483648 at position 1 does not fit int32/);
    expect(tensor([2 ** 31 - 1, -(2 ** 31), -1.5], { dtype: 'int32' }).toArraySync()).toEqual([2 ** 31 - 1, -(2 ** 31), -1]);
  });

  it('gradients only for floating-point tensors, however requiresGrad is set', () => {
    const ints = tensor([1, 2], { dtype: 'int32' });
    expect(err(() => void (ints.requiresGrad = true))).toBe('requiresGrad: tensor [2] (int32, cpu) is not floating point; only float tensors (float32, float64, float16, bfloat16) have gradients');
    expect(ints.requiresGrad).toBe(false);
    expect(err(() => tensor([1], { dtype: 'int32', requiresGrad: true }))).toBe('tensor: only floating-point tensors can require grad; got dtype int32');
  });
});
