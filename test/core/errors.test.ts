/**
 * Every bad-input error: a LorafaError whose message starts with the op's name, shows the
 * shapes/dtypes given and says what was expected.
 */
import { describe, expect, it } from 'vitest';
import { arange, eye, full, manualSeed, ones, ops, rand, randn, tensor, zeros, type DType } from '../../src/index.ts';
import { expectError } from '../helpers/errors.ts';

const f32 = (shape: number[]) => zeros(shape);
const f64 = (shape: number[]) => zeros(shape, { dtype: 'float64' });

describe('shape mismatches', () => {
  it('every binary op (and the comparisons, where, expand) names both shapes and the axis', () => {
    for (const [op, fn] of [['add', ops.add], ['sub', ops.sub], ['mul', ops.mul], ['div', ops.div], ['eq', ops.eq], ['gt', ops.gt]] as const) {
      expectError(() => fn(f32([2, 3]), f32([4])), op, 'shapes [2, 3] and [4] cannot be broadcast together', 'axis -1 has sizes 3 and 4', 'expected equal sizes or 1');
      expectError(() => fn(f32([5, 1, 3]), f32([4, 2, 3])), op, '[5, 1, 3] and [4, 2, 3]', 'axis -3 has sizes 5 and 4');
    }
    expectError(() => ops.where(f32([2]), f32([3]), f32([2])), 'where', 'shapes [2] and [3] and [2] cannot be broadcast');
    expectError(() => ops.expand(f32([2, 3]), [3]), 'expand', 'x [2, 3] (float32, cpu) to [3]', 'expected each size to match or be 1');
    expectError(() => ops.expand(f32([2, 3]), [4, 3, 3]), 'expand', '[2, 3] and [4, 3, 3]');
  });

  it('matmul: inner dimensions (with flags), rank, batch axes', () => {
    expectError(() => ops.matmul(f32([2, 3]), f32([4, 5])), 'matmul', 'inner dimensions differ', 'a [2, 3] (float32, cpu)', 'b [4, 5] (float32, cpu)', 'expected op(a).shape[-1] (3) = op(b).shape[-2] (4)');
    expectError(() => ops.matmul(f32([2, 3]), f32([2, 5]), { transA: true, transB: true }), 'matmul', 'a [2, 3] (float32, cpu)ᵀ', 'b [2, 5] (float32, cpu)ᵀ', '(2) = op(b).shape[-2] (5)');
    expectError(() => ops.matmul(f32([3]), f32([3, 5])), 'matmul', 'expected tensors of rank ≥ 2', 'a [3] (float32, cpu)');
    expectError(() => ops.matmul(f32([2, 2, 3]), f32([3, 3, 5])), 'matmul', 'batch axes [2] of a [2, 2, 3] (float32, cpu) and [3] of b [3, 3, 5] (float32, cpu)', 'expected equal sizes or 1');
  });

  it('reshape to an incompatible size, or with two −1', () => {
    expectError(() => ops.reshape(f32([2, 3]), [4]), 'reshape', 'x [2, 3] (float32, cpu) (6 elements) to [4]', 'expected the same number of elements');
    expectError(() => ops.reshape(f32([2, 3]), [-1, -1]), 'reshape', 'to [-1, -1]', 'at most one −1');
    expectError(() => ops.reshape(f32([2, 3]), [-1, 4]), 'reshape', 'to [-1, 4]');
    expectError(() => f32([2, 3]).reshape([2.5, 2]), 'reshape', 'to [2.5, 2]');
  });

  it('concat: mismatched sizes off the axis, no inputs', () => {
    expectError(() => ops.concat([f32([2, 3]), f32([3, 3])], 1), 'concat', 'input [3, 3] (float32, cpu) does not match the first input [2, 3] (float32, cpu)', 'sizes except on axis 1');
    expectError(() => ops.concat([f32([2, 3]), f32([2])]), 'concat', 'input [2] (float32, cpu)');
    expectError(() => ops.concat([]), 'concat', 'expected at least one tensor');
  });

  it('layerNorm: γ or β of the wrong shape or dtype', () => {
    expectError(() => ops.layerNorm(f32([2, 3]), f32([4])), 'layerNorm', 'gamma [4] (float32, cpu) does not fit x [2, 3] (float32, cpu)', 'expected shape [3] and dtype float32');
    expectError(() => ops.layerNorm(f32([2, 3]), null, f64([3])), 'layerNorm', 'beta [3] (float64, cpu)', 'dtype float32');
  });

  it('crossEntropy: logits and targets that do not fit, non-integer targets', () => {
    expectError(() => ops.crossEntropy(f32([2, 3]), [0, 1, 2]), 'crossEntropy', 'logits [2, 3] (float32, cpu) and targets [3] (int32, cpu) do not fit', 'expected logits [N, C] and int32 targets [N]');
    expectError(() => ops.crossEntropy(f32([3]), [0, 1, 2]), 'crossEntropy', 'logits [3] (float32, cpu)');
    expectError(() => ops.crossEntropy(f32([2, 3]), f32([2])), 'crossEntropy', 'indices [2] (float32, cpu) must be int32');
    expectError(() => ops.crossEntropy(f32([2, 3]), [0.5, 1]), 'crossEntropy', 'index 0.5 at position 0 is not an integer', 'expected integer indices');
  });

  it('crossEntropy: a target outside [0, C) that is not the ignore index names it, its position and C', () => {
    const expected = 'expected 0 ≤ target < C = 3, or the ignore index -100';
    expectError(() => ops.crossEntropy(f32([2, 3]), [0, 3]), 'crossEntropy', 'target 3 at position 1 is out of range for logits [2, 3] (float32, cpu)', expected);
    expectError(() => ops.crossEntropy(f32([2, 3]), tensor(new Int32Array([-1, 0]))), 'crossEntropy', 'target -1 at position 0', expected);
    expectError(() => ops.crossEntropy(f32([1, 3]), [-100], { ignoreIndex: 2 }), 'crossEntropy', 'target -100 at position 0', 'or the ignore index 2');
    expect(ops.crossEntropy(f32([2, 3]), [-1, 1], { ignoreIndex: -1 }).itemSync()).toBeCloseTo(Math.log(3), 6);
  });

  it('embedding: index out of range, a table that is not [V, D]', () => {
    expectError(() => ops.embedding(f32([4, 3]), [0, 4]), 'embedding', 'index 4 at position 1 is out of range for table [4, 3] (float32, cpu)', 'expected 0 ≤ index < 4');
    expectError(() => ops.embedding(f32([4, 3]), [-1]), 'embedding', 'index -1 at position 0');
    expectError(() => ops.embedding(f32([4]), [0]), 'embedding', 'table [4] (float32, cpu) must be [V, D]');
  });

  it('embedding: nested indices that are ragged, not integers or out of range name the position', () => {
    expectError(() => ops.embedding(f32([4, 3]), [[0, 1], [2]]), 'embedding', 'ragged nested array: element [1] has length 1 but axis 1 has length 2', 'expected a rectangular array of shape [2, 2]');
    expectError(() => ops.embedding(f32([4, 3]), [[0, 1], 2]), 'embedding', 'element [1] has no length');
    expectError(() => ops.embedding(f32([4, 3]), [[0, 1], [2, 1.5]]), 'embedding', 'index 1.5 at position [1, 1] is not an integer', 'expected integer indices');
    expectError(() => ops.embedding(f32([4, 3]), [[0, 1], [4, 0]]), 'embedding', 'index 4 at position [1, 0] is out of range for table [4, 3] (float32, cpu)', 'expected 0 ≤ index < 4');
    expectError(() => ops.embedding(f32([4, 3]), tensor(new Int32Array([0, 1, 2, -1]), { shape: [2, 2] })), 'embedding', 'index -1 at position [1, 1]');
  });
});

describe('dtype mismatches', () => {
  it('binary ops, matmul, where, concat, assign name both dtypes', () => {
    for (const [op, fn] of [['add', ops.add], ['sub', ops.sub], ['mul', ops.mul], ['div', ops.div], ['matmul', ops.matmul]] as const) {
      expectError(() => fn(f32([2, 2]), f64([2, 2])), op, 'dtypes differ: a [2, 2] (float32, cpu) and b [2, 2] (float64, cpu)', 'expected the same dtype');
    }
    expectError(() => ops.where(f32([2]), f32([2]), f64([2])), 'where', 'a [2] (float32, cpu) and b [2] (float64, cpu)');
    expectError(() => ops.concat([f32([2]), f64([2])]), 'concat', 'input [2] (float64, cpu)', 'the first input [2] (float32, cpu)', 'the same dtype');
    expectError(() => f32([2]).assign(f64([2])), 'assign', 'src [2] (float64, cpu) does not match target [2] (float32, cpu)', 'expected the same shape, dtype and device');
  });

  it('float ops reject int32 inputs', () => {
    const i = zeros([2], { dtype: 'int32' });
    for (const [op, fn] of [['tanh', ops.tanh], ['exp', ops.exp], ['sum', (t: typeof i) => ops.sum(t)], ['softmax', (t: typeof i) => ops.softmax(t)]] as const) {
      expectError(() => fn(i), op, 'input [2] (int32, cpu) is not floating point', 'expected float32, float64, float16 or bfloat16');
    }
    expectError(() => ops.add(i, i), 'add', '(int32, cpu) is not floating point');
  });

  it('cast: unknown dtype, int32 of a tensor that requires grad', () => {
    expectError(() => ops.cast(f32([2]), 'bf16' as DType), 'cast', "unknown dtype 'bf16'", 'expected one of float32, float64, float16, bfloat16, int32');
    expectError(() => ops.cast(zeros([2], { requiresGrad: true }), 'int32'), 'cast', 'x [2] (float32, cpu) requires grad', 'not differentiable');
  });

  it('where: a condition that requires grad', () => {
    expectError(() => ops.where(zeros([2], { requiresGrad: true }), f32([2]), f32([2])), 'where', 'cond [2] (float32, cpu) requires grad', 'not differentiable');
  });
});

describe('autograd misuse', () => {
  it('backward on a non-scalar without a gradient, with a gradient that does not fit, on a tensor without grad', () => {
    const y = ops.mul(zeros([2, 3], { requiresGrad: true }), 2);
    expectError(() => y.backward(), 'backward', 'output [2, 3] (float32, cpu) is not a scalar', 'pass a gradient of the same shape');
    expectError(() => y.backward(f64([2, 3])), 'backward', 'gradient [2, 3] (float64, cpu) does not match output [2, 3] (float32, cpu)', 'expected the same shape, dtype and device');
    expectError(() => y.backward(f32([3, 2])), 'backward', 'gradient [3, 2] (float32, cpu)');
    expectError(() => f32([2]).sum().backward(), 'backward', 'tensor [] (float32, cpu) does not require grad', 'expected an output of ops on tensors created with { requiresGrad: true }');
  });

  it('backward twice through a freed graph', () => {
    const y = ops.exp(zeros([2], { requiresGrad: true })).sum();
    y.backward();
    expectError(() => y.backward(), 'sum', 'backward through a graph that was already freed', 'pass { retainGraph: true }');
  });

  it('use after dispose', () => {
    const x = f32([2, 3]);
    x.dispose();
    expectError(() => ops.tanh(x), 'tanh', 'input [2, 3] (float32, cpu) was disposed', 'cannot be used after dispose()');
    expectError(() => ops.add(f32([2, 3]), x), 'add', 'was disposed');
    expectError(() => x.dataSync(), 'dataSync', 'was disposed');
    expectError(() => x.detach(), 'detach', 'was disposed');
  });

  it('item of a tensor with more than one element', () => {
    expectError(() => f32([2]).itemSync(), 'itemSync', 'tensor [2] (float32, cpu) has 2 elements; expected exactly 1');
  });
});

describe('invalid axes', () => {
  it('sum, mean, max, softmax, logSoftmax, slice, transpose, permute, concat', () => {
    const x = f32([2, 3]);
    const range = 'expected an integer in [-2, 1]';
    expectError(() => ops.sum(x, 2), 'sum', 'axis 2 is out of range for x [2, 3] (float32, cpu) of rank 2', range);
    expectError(() => ops.sum(x, [1, -1]), 'sum', 'axis list [1, -1] repeats an axis of x [2, 3] (float32, cpu)', 'expected distinct axes');
    expectError(() => ops.mean(x, -3), 'mean', 'axis -3', range);
    expectError(() => ops.max(x, 1.5), 'max', 'axis 1.5', range);
    expectError(() => ops.max(f32([0, 3]), 0), 'max', 'empty axis of x [0, 3] (float32, cpu)');
    expectError(() => ops.softmax(x, 2), 'softmax', 'axis 2 is out of range for x [2, 3] (float32, cpu)', range);
    expectError(() => ops.logSoftmax(x, -3), 'logSoftmax', 'axis -3', range);
    expectError(() => ops.slice(x, 2, 0, 1), 'slice', 'axis 2', range);
    expectError(() => ops.slice(x, 1, 2, 5), 'slice', 'range [2, 5) is invalid for axis 1 of size 3 in x [2, 3] (float32, cpu)', 'expected 0 ≤ start ≤ end ≤ 3');
    expectError(() => ops.slice(x, 1, 2, 1), 'slice', 'range [2, 1)');
    expectError(() => ops.transpose(x, 0, 2), 'transpose', 'axis 2', range);
    expectError(() => ops.transpose(f32([2])), 'transpose', 'x [2] (float32, cpu) has fewer than 2 axes');
    expectError(() => ops.permute(x, [0, 0]), 'permute', 'dims [0, 0] is not a permutation of the 2 axes of x [2, 3] (float32, cpu)');
    expectError(() => ops.concat([x, x], 2), 'concat', 'axis 2 is out of range for x [2, 3] (float32, cpu)', range);
  });
});

describe('factories and random', () => {
  it('ragged or non-numeric nested arrays', () => {
    expectError(() => tensor([[1, 2], [3]]), 'tensor', 'ragged nested array: element [1] has length 1 but axis 1 has length 2', 'expected a rectangular array of shape [2, 2]');
    expectError(() => tensor([[1, 2], 3] as never), 'tensor', 'element [1] has no length');
    expectError(() => tensor([[1, 'a']] as never), 'tensor', 'element [0][1] is the string "a"; expected a number');
  });

  it('bad shapes and options', () => {
    expectError(() => tensor([1, 2, 3], { shape: [2, 2] }), 'tensor', 'data has 3 elements but shape [2, 2] needs 4');
    expectError(() => tensor(new Float32Array(5), { shape: [2, 2] }), 'tensor', 'data has 5 elements');
    expectError(() => zeros([2, -1]), 'zeros', 'invalid shape [2, -1]', 'non-negative integers');
    expectError(() => ones([1.5]), 'ones', 'invalid shape [1.5]');
    expectError(() => full([2], 1, { dtype: 'float8' as DType }), 'full', "unknown dtype 'float8'", 'expected one of float32, float64, float16, bfloat16, int32');
    expectError(() => tensor(new Uint16Array(2)), 'tensor', 'a Uint16Array holds float16 or bfloat16 bit patterns', "pass dtype: 'float16' or 'bfloat16' (got none)");
    expectError(() => tensor(new Uint16Array(2), { dtype: 'float32' }), 'tensor', 'a Uint16Array holds float16 or bfloat16 bit patterns', '(got float32)');
    expectError(() => eye(-1), 'eye', 'invalid shape [-1, -1]');
    expectError(() => arange(0, 5, 0), 'arange', 'step must be a finite non-zero number, got 0');
    expectError(() => arange(0, 5, NaN), 'arange', 'step must be a finite non-zero number, got NaN');
    expectError(() => arange(0, Infinity), 'arange', 'end must be a finite number, got Infinity');
    expectError(() => arange(NaN), 'arange', 'end must be a finite number, got NaN');
    expectError(() => arange(-Infinity, 0), 'arange', 'start must be a finite number, got -Infinity');
    expectError(() => arange(NaN, 3), 'arange', 'start must be a finite number, got NaN');
    expectError(() => arange(0, 1e300, 1e-300), 'arange', 'has Infinity elements; expected at most 2147483647');
    expectError(() => arange(0, 2 ** 31), 'arange', 'has 2147483648 elements; expected at most 2147483647');
    expectError(() => zeros([2], { dtype: 'int32', requiresGrad: true }), 'zeros', 'only floating-point tensors can require grad; got dtype int32');
    expectError(() => rand([2], { dtype: 'int32' }), 'rand', 'dtype must be a float dtype (float32, float64, float16, bfloat16), got int32');
    expectError(() => randn([-2]), 'randn', 'invalid shape [-2]');
  });

  it('bad seeds and dropout probabilities', () => {
    expectError(() => randn([2], { seed: -1 }), 'randn', 'seed must be an integer in [0, 2^32), got -1');
    expectError(() => manualSeed(1.5), 'manualSeed', 'got 1.5');
    expectError(() => ops.dropout(f32([2]), 0.5, { seed: 2 ** 32 }), 'dropout', 'seed must be an integer');
    for (const p of [1, -0.1, NaN, 2]) expectError(() => ops.dropout(f32([2]), p), 'dropout', `p = ${p} is out of range; expected 0 ≤ p < 1`);
  });

  it('a device that is not initialised', async () => {
    await expect(f32([2]).to('webgpu')).rejects.toThrow(/^getBackend: the 'webgpu' backend is not initialised; call `await initWebGpu\(\)` first/);
  });
});
