/** full, cast, unary, unaryGrad, binary and where on WebGPU (one thread per output element). */
import type { BinaryOp, ElementwiseKernels, UnaryOp } from '../../backend.ts';
import { typedArrayFor } from '../../../dtype.ts';
import { broadcastStrides, contiguousStrides, sizeOf } from '../../../shape.ts';
import { Params } from '../gpu-context.ts';
import { buf, grid1d, type Gpu } from './gpu.ts';
import { kernelAxes, MAX_RANK } from './layout.ts';

/** The OP override of unary.wgsl. */
const UNARY_CODE: Readonly<Record<UnaryOp, number>> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, abs: 4, tanh: 5, sigmoid: 6, relu: 7, gelu: 8, geluErf: 9, silu: 10, pow: 11,
};

/** The OP override of binary.wgsl and scalar.wgsl. */
const BINARY_CODE: Readonly<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3, eq: 4, gt: 5 };

/** The MODE override of cast.wgsl: 0 copy, 1 float32 → int32, 2 int32 → float32. */
function castMode(from: string, to: string): number {
  if (from === to) return 0;
  return to === 'int32' ? 1 : 2;
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
      // the value converted exactly as the CPU's typed-array fill does, then sent as its bits
      const bits = new Uint32Array(typedArrayFor(dtype, 1).fill(value).buffer)[0]!;
      gpu.run({ shader: 'full', params: new Params().u32(size).u32(bits), buffers: [buf(out)], groups: grid1d(size) });
      return out;
    },
    cast(x, dtype) {
      const out = gpu.alloc('cast', dtype, x.size);
      gpu.run({ shader: 'cast', constants: { MODE: castMode(x.dtype, dtype) }, params: new Params().u32(x.size), buffers: [buf(x), buf(out)], groups: grid1d(x.size) });
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
