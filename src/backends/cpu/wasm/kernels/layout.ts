/**
 * The layout group on the WebAssembly tier: strided gathers and scatters (gen/layout.ts) for views
 * that collapse to at most 4 axes, copied as 2-, 4- or 8-byte words whatever the dtype.
 */
import type { LayoutKernels, Storage, StridedView } from '../../../backend.ts';
import { BYTES_PER_ELEMENT } from '../../../../dtype.ts';
import { collapseAxes, contiguousStrides, sizeOf } from '../../../../shape.ts';
import { Operands, type WasmCpu } from './operands.ts';
import type { Fallible } from './fallible.ts';

const AXES = 4;

/** The view as [n0..n3] and byte strides [s0..s3] (leading axes of 1 added), or null past 4 axes. */
function axes(view: StridedView, w: number): { n: number[]; s: number[] } | null {
  const { shape, strides } = collapseAxes(view.shape, [contiguousStrides(view.shape), [...view.strides]]);
  if (shape.length > AXES) return null;
  const pad = AXES - shape.length;
  return { n: [...new Array<number>(pad).fill(1), ...shape], s: [...new Array<number>(pad).fill(0), ...strides[1]!.map((x) => x * w)] };
}

/** strided_<w>(from, to, n0..n3, s0..s3, scatter), split over n0: the strided side moves by s0, the contiguous one by a block. */
function copy(cpu: WasmCpu, from: number, to: number, n: number[], s: number[], scatter: boolean, w: number): void {
  const args = [from, to, ...n, ...s, scatter ? 1 : 0];
  const block = n[1]! * n[2]! * n[3]! * w;
  const pointers: [number, number][] = [[0, scatter ? block : s[0]!], [1, scatter ? s[0]! : block]];
  cpu.rt.run(`strided_${w}`, args, 2 * n[0]! * block / w, { extent: n[0]!, granule: 1, count: 2, pointers });
}

export function wasmLayout(cpu: WasmCpu): Fallible<LayoutKernels> {
  return {
    gatherStrided: (x: Storage, view) => {
      const w = BYTES_PER_ELEMENT[x.dtype], v = axes(view, w);
      if (!v) return null;
      const ops = new Operands(cpu);
      const from = ops.input(x), to = ops.output(x.dtype, sizeOf(view.shape));
      if (!ops.ok) return ops.abandon();
      copy(cpu, from + view.offset * w, to, v.n, v.s, false, w);
      return ops.finish()[0]!;
    },
    scatterStrided: (dst, src, view) => {
      const w = BYTES_PER_ELEMENT[dst.dtype], v = axes(view, w);
      if (!v || src.dtype !== dst.dtype) return null;
      const ops = new Operands(cpu);
      const to = ops.inout(dst), from = ops.input(src);
      if (!ops.ok) return ops.abandon();
      copy(cpu, from, to + view.offset * w, v.n, v.s, true, w);
      ops.finish();
      return undefined;
    },
  };
}
