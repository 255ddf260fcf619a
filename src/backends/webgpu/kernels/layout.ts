/** Strided copies and broadcasting: the host collapses shapes, the kernels walk ≤ 8 axes. */
import type { Kernels, StridedView } from '../../backend.ts';
import { fail, fmtShape } from '../../../errors.ts';
import { contiguousStrides, sizeOf } from '../../../shape.ts';
import { Params } from '../gpu-context.ts';
import { buf, grid1d, type Gpu } from './gpu.ts';

/** Axes the shaders can walk after collapsing (two vec4u per shape or stride array). */
export const MAX_RANK = 8;

/**
 * Drops size-1 axes and merges an axis into the one before it when every operand steps through
 * both contiguously (stride[prev] = stride[cur]·size[cur]), as the CPU's row iteration does.
 * Operand 0 is normally the contiguous output. Returns the collapsed shape and strides.
 */
export function collapse(op: string, shape: readonly number[], operands: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const out: number[] = [];
  const strides: number[][] = operands.map(() => []);
  shape.forEach((n, j) => {
    if (n === 1) return;
    const last = out.length - 1;
    if (last >= 0 && operands.every((s, k) => strides[k]![last] === s[j]! * n)) {
      out[last]! *= n;
      operands.forEach((s, k) => (strides[k]![last] = s[j]!));
    } else {
      out.push(n);
      operands.forEach((s, k) => strides[k]!.push(s[j]!));
    }
  });
  if (out.length > MAX_RANK) fail(op, `shape ${fmtShape(shape)} has ${out.length} axes after merging contiguous ones; the WebGPU kernels walk at most ${MAX_RANK}`);
  return { shape: out, strides };
}

/** Params { n, rank, offset, shape[8], strides[8] } of gather-strided.wgsl / scatter-strided.wgsl. */
function viewParams(op: string, view: StridedView): { params: Params; n: number } {
  const n = sizeOf(view.shape);
  const c = collapse(op, view.shape, [contiguousStrides(view.shape), view.strides]);
  const params = new Params().u32(n).u32(c.shape.length).u32(view.offset).vec(c.shape, MAX_RANK).vec(c.strides[1]!, MAX_RANK);
  return { params, n };
}

export function layoutKernels(gpu: Gpu): Pick<Kernels, 'gatherStrided' | 'scatterStrided'> {
  return {
    gatherStrided(x, view) {
      const { params, n } = viewParams('gatherStrided', view);
      const out = gpu.alloc('gatherStrided', x.dtype, n);
      gpu.run({ shader: 'gather-strided', params, buffers: [buf(x), buf(out)], groups: grid1d(n) });
      return out;
    },
    scatterStrided(dst, src, view) {
      const { params, n } = viewParams('scatterStrided', view);
      gpu.run({ shader: 'scatter-strided', params, buffers: [buf(src), buf(dst)], groups: grid1d(n) });
    },
  };
}
