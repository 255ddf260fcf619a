/** full, cast (every pair of float32, int32, float16, bfloat16), unary, unaryGrad, binary and where on WebGPU (one thread per output element). */
import type { BinaryOp, ElementwiseKernels, UnaryOp } from '../../backend.ts';
import { typedArrayFor, type DType } from '../../../dtype.ts';
import { encodeHalf, HALF_FORMATS, isHalf } from '../../../half-float.ts';
import { broadcastStrides, contiguousStrides, sizeOf } from '../../../shape.ts';
import { Params } from '../gpu-context.ts';
import { buf, grid1d, wordsOf, type Gpu } from './gpu.ts';
import { kernelAxes, MAX_RANK } from './layout.ts';

/** The OP override of unary.wgsl. */
const UNARY_CODE: Readonly<Record<UnaryOp, number>> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, abs: 4, tanh: 5, sigmoid: 6, relu: 7, gelu: 8, geluErf: 9, silu: 10, pow: 11,
};

/** The OP override of binary.wgsl and scalar.wgsl. */
const BINARY_CODE: Readonly<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3, eq: 4, gt: 5 };

/** The FROM and TO overrides of cast.wgsl (float64 never reaches webgpu: alloc refuses it). */
const CAST_CODE: Readonly<Record<Exclude<DType, 'float64'>, number>> = { float32: 0, int32: 1, float16: 2, bfloat16: 3 };

/** The u32 word that full.wgsl repeats: the value's float32 or int32 bits, or its 16-bit bits twice (two elements per word). */
function fullWord(dtype: DType, value: number): number {
  if (isHalf(dtype)) {
    const bits = encodeHalf(HALF_FORMATS[dtype], value);
    return (bits | (bits << 16)) >>> 0;
  }
  // the value converted exactly as the CPU's typed-array fill does
  return new Uint32Array(typedArrayFor(dtype, 1).fill(value).buffer)[0]!;
}

/** Collapsed output shape and per-operand strides of a broadcast over outShape (≤ 8 axes). */
function broadcastParams(op: string, outShape: readonly number[], shapes: readonly (readonly number[])[]): Params {
  const c = kernelAxes(op, outShape, [contiguousStrides(outShape), ...shapes.map((s) => broadcastStrides(s, outShape))]);
  const params = new Params().u32(sizeOf(outShape)).u32(c.shape.length).vec(c.shape, MAX_RANK);
  for (const s of c.strides.slice(1)) params.vec(s, MAX_RANK);
  return params;
}

export function elementwiseKernels(gpu: Gpu): ElementwiseKernels {
  return {
    full(dtype, size, value) {
      const out = gpu.alloc('full', dtype, size);
      const words = wordsOf(dtype, size);
      gpu.run({ shader: 'full', params: new Params().u32(words).u32(fullWord(dtype, value)), buffers: [buf(out)], groups: grid1d(words) });
      return out;
    },
    cast(x, dtype) {
      const out = gpu.alloc('cast', dtype, x.size);
      const codes = CAST_CODE as Record<DType, number>;
      gpu.run({
        shader: 'cast', constants: { FROM: codes[x.dtype], TO: codes[dtype] },
        params: new Params().u32(x.size), buffers: [buf(x), buf(out)], groups: grid1d(wordsOf(dtype, x.size)),
      });
      return out;
    },
    unary(op, x, param) {
      const out = gpu.alloc(op, x.dtype, x.size);
      gpu.run({
        shader: 'unary', entry: 'forward', constants: { OP: UNARY_CODE[op] },
        params: new Params().u32(x.size).f32(param), buffers: [buf(x), buf(out)], groups: grid1d(x.size),
      });
      return out;
    },
    unaryGrad(op, saved, gradOut, param) {
      const out = gpu.alloc(op, gradOut.dtype, gradOut.size);
      gpu.run({
        shader: 'unary', entry: 'grad', constants: { OP: UNARY_CODE[op] },
        params: new Params().u32(gradOut.size).f32(param), buffers: [buf(saved), buf(out), buf(gradOut)], groups: grid1d(gradOut.size),
      });
      return out;
    },
    binaryScalar(op, x, value, valueFirst) {
      const out = gpu.alloc(op, x.dtype, x.size);
      gpu.run({
        shader: 'scalar', constants: { OP: BINARY_CODE[op], VALUE_FIRST: valueFirst },
        params: new Params().u32(x.size).f32(value), buffers: [buf(x), buf(out)], groups: grid1d(x.size),
      });
      return out;
    },
    binary(op, a, aShape, b, bShape, outShape) {
      const n = sizeOf(outShape);
      const params = broadcastParams(op, outShape, [aShape, bShape]);
      const out = gpu.alloc(op, a.dtype, n);
      gpu.run({
        shader: 'binary', constants: { OP: BINARY_CODE[op] }, params,
        buffers: [buf(a), buf(b), buf(out)], groups: grid1d(n),
      });
      return out;
    },
    where(cond, condShape, a, aShape, b, bShape, outShape) {
      const n = sizeOf(outShape);
      const params = broadcastParams('where', outShape, [condShape, aShape, bShape]);
      const out = gpu.alloc('where', a.dtype, n);
      gpu.run({
        shader: 'where', constants: { COND_INT: cond.dtype === 'int32' }, params,
        buffers: [buf(cond), buf(a), buf(b), buf(out)], groups: grid1d(n),
      });
      return out;
    },
  };
}
