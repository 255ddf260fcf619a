import type { ReduceKernels, ReduceOp } from '../../backend.ts';
import { like, type FloatArray } from '../float-array.ts';
import { floats, type Cpu } from './cpu.ts';

/** x viewed as [outer, len, inner] → out [outer, inner]; sums accumulate in float64. */
export function reduce(op: ReduceOp, x: FloatArray, outer: number, len: number, inner: number): FloatArray {
  const out = like(x, outer * inner);
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = o * len;
      let acc = op === 'sum' ? 0 : -Infinity;
      if (op === 'sum') for (let l = 0; l < len; l++) acc += x[base + l]!;
      else for (let l = 0; l < len; l++) acc = maxNaN(acc, x[base + l]!);
      out[o] = acc;
    }
    return out;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(op === 'sum' ? 0 : -Infinity);
    for (let l = 0; l < len; l++) {
      const base = (o * len + l) * inner;
      if (op === 'sum') for (let i = 0; i < inner; i++) acc[i]! += x[base + i]!;
      else for (let i = 0; i < inner; i++) acc[i] = maxNaN(acc[i]!, x[base + i]!);
    }
    out.set(acc, o * inner);
  }
  return out;
}

/** max that propagates NaN, as numpy and PyTorch do. */
function maxNaN(a: number, b: number): number {
  return a > b || Number.isNaN(a) ? a : b;
}

export function reduceKernels(cpu: Cpu): ReduceKernels {
  return { reduce: (op, x, outer, len, inner) => cpu.adopt(reduce(op, floats(x), outer, len, inner)) };
}
