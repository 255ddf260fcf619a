/**
 * Hostile inputs to tensor creation and the tensor ops (see verdict.ts): nested arrays with holes,
 * ragged levels and non-numbers, out-of-range integers, bad shapes, axes, ranges, permutations,
 * flags and indices. Every case ends in a clear error naming the op or in a result checked against
 * a float64 reference (test/helpers/reference.ts).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ops, tensor, type DType, type Tensor } from '../../src/index.ts';
import { decodeHalf, encodeHalf, HALF_FORMATS, isHalf } from '../../src/half-float.ts';
import * as ref from '../helpers/reference.ts';
import { judge, summary } from './verdict.ts';

const RUNS = { numRuns: 300 };
afterAll(() => console.log(summary()));

/** Numbers and things that are not: what a careless caller puts in an array. */
const numberish = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ noDefaultInfinity: false, noNaN: false }), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 3e9, 1e40, -0)) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(true, 'x', '1', null, undefined, {}, [], [1], 1n) },
);

/** Arrays up to three levels deep, possibly ragged or with holes. */
const nested = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, numberish, tie('array')),
  array: fc.oneof(fc.array(tie('node'), { maxLength: 4 }), fc.sparseArray(numberish, { maxLength: 4 })),
})).node;

const dtype = fc.constantFrom<unknown>('float32', 'float64', 'int32', undefined, 'float16', 'bfloat16', 'constructor', 42);

/** The values a tensor of dtype would hold for each number (float32 and 16-bit rounding, int32 truncation). */
function convert(v: number, d: DType): number {
  if (isHalf(d)) return decodeHalf(HALF_FORMATS[d], encodeHalf(HALF_FORMATS[d], v));
  return d === 'float32' ? Math.fround(v) : d === 'int32' ? Math.trunc(v) + 0 : v;
}

/** Reference flatten that assumes the data is valid (a non-number yields NaN, so accepting one shows). */
function flatten(x: unknown): { shape: number[]; values: number[] } {
  if (!Array.isArray(x)) return { shape: [], values: [typeof x === 'number' ? x : NaN] };
  const parts = Array.from({ length: x.length }, (_, i) => flatten(x[i]));
  return { shape: [x.length, ...(parts[0]?.shape ?? [])], values: parts.flatMap((p) => p.values) };
}

const sameNumbers = (a: ArrayLike<number>, b: ArrayLike<number>) => expect(Array.from(a)).toEqual(Array.from(b));

describe('hostile inputs: tensor creation', () => {
  it('tensor(data, { dtype, shape }) is a clear error or holds exactly the data', () => {
    fc.assert(fc.property(nested, dtype, fc.option(fc.array(fc.oneof(fc.integer({ min: -1, max: 4 }), fc.double()), { maxLength: 3 }), { nil: undefined }), (data, dt, shape) => {
      judge('tensor()', ['tensor'], () => tensor(data as never, { dtype: dt as DType, ...(shape ? { shape } : {}) }), (t) => {
        const expected = flatten(data);
        const d = (dt ?? 'float32') as DType;
        expect(t.dtype).toBe(d);
        expect(t.shape).toEqual(shape ?? expected.shape);
        sameNumbers(t.dataSync(), expected.values.map((v) => convert(v, d)));
      });
    }), RUNS);
  });
});

/** A small float64 tensor of shape with distinct values, and its reference. */
function input(shape: number[]): { t: Tensor; x: ref.Nd } {
  const values = Array.from({ length: ref.size(shape) }, (_, i) => ((i * 7919) % 13) / 4 - 1.5);
  return { t: tensor(values, { shape, dtype: 'float64' }), x: ref.nd(shape, values) };
}

const smallShape = fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 });
/** An axis-like number: in range, out of range, negative, fractional, not finite. */
const axisLike = fc.oneof(fc.integer({ min: -4, max: 4 }), fc.constantFrom(0.5, NaN, Infinity, -0));

describe('hostile inputs: shape ops and reductions', () => {
  it('reshape to any list of sizes', () => {
    fc.assert(fc.property(smallShape, fc.array(fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom(0.5, NaN)), { maxLength: 4 }), (shape, target) => {
      const { t, x } = input(shape);
      judge('reshape', ['reshape'], () => ops.reshape(t, target), (y) => {
        expect(y.size).toBe(t.size);
        expect(y.shape).toEqual(target.map((d) => (d === -1 ? t.size / ref.size(target.filter((e) => e !== -1)) : d)));
        sameNumbers(y.dataSync(), x.data);
      });
    }), RUNS);
  });

  it('sum over any axes, with keepdim', () => {
    fc.assert(fc.property(smallShape, fc.option(fc.oneof(axisLike, fc.array(axisLike, { maxLength: 3 })), { nil: undefined }), fc.boolean(), (shape, axes, keepdim) => {
      const { t, x } = input(shape);
      judge('sum', ['sum'], () => ops.sum(t, axes as number[], keepdim), (y) => {
        const list = axes === undefined ? undefined : (typeof axes === 'number' ? [axes] : axes).map((a) => (a < 0 ? a + shape.length : a));
        const r = ref.reduce(x, list, keepdim, 0, (acc, v) => acc + v);
        expect(y.shape).toEqual(r.shape);
        y.dataSync().forEach((v, i) => expect(v).toBeCloseTo(r.data[i]!, 12));
      });
    }), RUNS);
  });

  it('slice with any axis and range, permute with any dims, transpose with any pair', () => {
    fc.assert(fc.property(smallShape, axisLike, fc.integer({ min: -5, max: 5 }), fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constant(0.5)), (shape, axis, start, end) => {
      const { t, x } = input(shape);
      judge('slice', ['slice'], () => ops.slice(t, axis, start, end), (y) => {
        const ax = axis < 0 ? axis + shape.length : axis, n = shape[ax]!;
        sameNumbers(y.dataSync(), ref.slice(x, ax, start < 0 ? start + n : start, end < 0 ? end + n : end).data);
      });
    }), RUNS);
    fc.assert(fc.property(smallShape, fc.array(axisLike, { maxLength: 4 }), (shape, dims) => {
      const { t, x } = input(shape);
      judge('permute', ['permute'], () => ops.permute(t, dims), (y) => {
        sameNumbers(y.dataSync(), ref.permute(x, dims.map((d) => (d < 0 ? d + shape.length : d))).data);
      });
    }), RUNS);
    fc.assert(fc.property(smallShape, fc.option(axisLike, { nil: undefined }), fc.option(axisLike, { nil: undefined }), (shape, a, b) => {
      const { t } = input(shape);
      judge('transpose', ['transpose'], () => ops.transpose(t, a, b), (y) => expect(y.size).toBe(t.size));
    }), RUNS);
  });
});

/** numpy's matmul on rank ≥ 2 operands: the batch axes broadcast, each matrix by ref.matmul. */
function batchedMatmul(a: ref.Nd, b: ref.Nd, transA: boolean, transB: boolean): ref.Nd {
  const batch = ref.broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const matrix = (x: ref.Nd, i: number): ref.Nd => {
    const rows = x.shape.slice(-2), own = x.shape.slice(0, -2);
    const at = ref.unravel(i, batch).slice(batch.length - own.length).map((c, k) => (own[k] === 1 ? 0 : c));
    const start = ref.ravel(at, own) * ref.size(rows);
    return ref.nd(rows, x.data.slice(start, start + ref.size(rows)));
  };
  const products = Array.from({ length: ref.size(batch) }, (_, i) => ref.matmul(matrix(a, i), matrix(b, i), transA, transB));
  return ref.nd([...batch, ...products[0]!.shape], products.flatMap((p) => [...p.data]));
}

describe('hostile inputs: matmul and the index ops', () => {
  it('matmul of any two small shapes with any flags', () => {
    const flag = fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, 1, 'yes', null) });
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }), flag, flag, (sa, sb, transA, transB) => {
      const a = input(sa), b = input(sb);
      judge('matmul', ['matmul'], () => ops.matmul(a.t, b.t, { transA, transB } as never), (y) => {
        const r = batchedMatmul(a.x, b.x, transA === true, transB === true);
        expect(y.shape).toEqual(r.shape);
        y.dataSync().forEach((v, i) => expect(v).toBeCloseTo(r.data[i]!, 12));
      });
    }), RUNS);
  });

  it('embedding and crossEntropy with any indices', () => {
    const index = fc.oneof(fc.integer({ min: -2, max: 5 }), fc.constantFrom<unknown>(0.5, NaN, 2 ** 31, '1', null, -100));
    const indices = fc.oneof(index, fc.array(index, { maxLength: 4 }), fc.array(fc.array(index, { maxLength: 3 }), { maxLength: 3 }));
    fc.assert(fc.property(indices, (idx) => {
      const table = input([4, 3]);
      judge('embedding', ['embedding'], () => ops.embedding(table.t, idx as never), (y) => {
        const { shape, values } = flatten(idx);
        expect(y.shape).toEqual([...shape, 3]);
        sameNumbers(y.dataSync(), values.flatMap((i) => table.x.data.slice(i * 3, i * 3 + 3)));
      });
    }), RUNS);
    fc.assert(fc.property(fc.array(index, { maxLength: 4 }), fc.option(fc.integer({ min: -101, max: 4 }), { nil: undefined }), (targets, ignoreIndex) => {
      const logits = input([targets.length, 3]);
      const opts = ignoreIndex === undefined ? {} : { ignoreIndex };
      judge('crossEntropy', ['crossEntropy'], () => ops.crossEntropy(logits.t, targets as never, opts), (loss) => {
        const r = ref.crossEntropy(logits.x, targets as number[], ignoreIndex ?? -100);
        if (Number.isNaN(r)) expect(Number.isNaN(loss.itemSync())).toBe(true);
        else expect(loss.itemSync()).toBeCloseTo(r, 12);
      });
    }), RUNS);
  });
});
