/**
 * Strided copies and broadcasting: the host collapses shapes, the kernels walk ≤ 8 axes. They copy
 * elements as they are: 32-bit words (strided.wgsl) or packed 16-bit patterns (strided-half.wgsl).
 */
import type { LayoutKernels, StridedView } from '../../backend.ts';
import { fail, fmtShape } from '../../../errors.ts';
import { isHalf } from '../../../half-float.ts';
import { collapseAxes, contiguousStrides, sizeOf } from '../../../shape.ts';
import { Params } from '../gpu-context.ts';
import { buf, grid1d, wordsOf, type Gpu } from './gpu.ts';

/** Axes the shaders can walk after collapsing (two vec4u per shape or stride array). */
export const MAX_RANK = 8;

/**
 * collapseAxes (src/shape.ts) of an iteration over `shape` for a kernel that walks at most
 * MAX_RANK axes; more is an error naming `op`. Operand 0 is normally the contiguous output.
 */
export function kernelAxes(op: string, shape: readonly number[], operands: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const c = collapseAxes(shape, operands);
  if (c.shape.length > MAX_RANK) fail(op, `shape ${fmtShape(shape)} has ${c.shape.length} axes after merging contiguous ones; the WebGPU kernels walk at most ${MAX_RANK}`);
  return c;
}

/** Params { n, rank, offset, shape[8], strides[8] } of strided.wgsl. */
function viewParams(op: string, view: StridedView): { params: Params; n: number } {
  const n = sizeOf(view.shape);
  const c = kernelAxes(op, view.shape, [contiguousStrides(view.shape), view.strides]);
  const params = new Params().u32(n).u32(c.shape.length).u32(view.offset).vec(c.shape, MAX_RANK).vec(c.strides[1]!, MAX_RANK);
  return { params, n };
}

export function layoutKernels(gpu: Gpu): LayoutKernels {
  return {
    gatherStrided(x, view) {
      const { params, n } = viewParams('gatherStrided', view);
      const out = gpu.alloc('gatherStrided', x.dtype, n);
      const shader = isHalf(x.dtype) ? 'strided-half' : 'strided';
      gpu.run({ shader, entry: 'gather', params, buffers: [buf(x), buf(out)], groups: grid1d(wordsOf(x.dtype, n)) });
      return out;
    },
    scatterStrided(dst, src, view) {
      const { params, n } = viewParams('scatterStrided', view);
      const shader = isHalf(dst.dtype) ? 'strided-half' : 'strided';
      gpu.run({ shader, entry: 'scatter', params, buffers: [buf(src), buf(dst)], groups: grid1d(n) });
    },
  };
}
