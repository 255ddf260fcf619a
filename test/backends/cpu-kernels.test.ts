/** CPU kernels called directly, where the ops above them cannot reach a case. */
import { describe, expect, it } from 'vitest';
import { getBackend, LorafaError } from '../../src/index.ts';
import { like } from '../../src/backends/cpu/float-array.ts';

const cpu = getBackend('cpu');
const read = (s: ReturnType<typeof cpu.upload>) => Array.from(cpu.readSync!(s));

describe('CPU kernels', () => {
  it('like: float64 stays float64, float32 and int32 give float32, zero-filled', () => {
    expect(like(new Float64Array([1, 2]))).toEqual(new Float64Array(2));
    expect(like(new Float32Array([1, 2]), 3)).toEqual(new Float32Array(3));
    expect(like(new Int32Array([1]))).toEqual(new Float32Array(1));
  });

  it('crossEntropy: a target outside [0, classes) gives a NaN loss (the op checks before, where it can)', () => {
    const logits = cpu.upload(new Float32Array([0, 0, 1, 2])), targets = cpu.upload(new Int32Array([2, -7]));
    const r = cpu.kernels.crossEntropy(logits, targets, 2, 2, -100);
    expect(read(r.loss).map(Number.isNaN)).toEqual([true, true]);
    expect(read(r.valid)).toEqual([1, 1]);
  });

  it('cholSolve: a zero or non-finite pivot of L is an error named cholSolve', () => {
    const rhs = cpu.upload(new Float64Array([1, 1]));
    for (const d of [0, NaN]) {
      const L = cpu.upload(new Float64Array([1, 0, 2, d]));
      expect(() => cpu.kernels.cholSolve(L, rhs, 2, 1)).toThrow(LorafaError);
      expect(() => cpu.kernels.cholSolve(L, rhs, 2, 1)).toThrow(`cholSolve: pivot 1 (L[1, 1]) is ${d}`);
    }
    expect(read(cpu.kernels.cholSolve(cpu.upload(new Float64Array([2, 0, 1, 1])), rhs, 2, 1))).toEqual([0, 0.5]); // [[4, 2], [2, 2]]·x = [1, 1]
  });
});
