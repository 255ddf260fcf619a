import type { LayoutKernels, StridedView } from '../../backend.ts';
import type { TypedArray } from '../../../dtype.ts';
import { contiguousStrides } from '../../../shape.ts';
import { forEachRow } from '../rows.ts';
import { elements, type Cpu } from './cpu.ts';

/** out (contiguous, view.shape) = x at the strided view. */
export function gatherStrided(x: TypedArray, view: StridedView): TypedArray {
  const size = view.shape.reduce((a, b) => a * b, 1);
  const out = new (x.constructor as new (n: number) => TypedArray)(size);
  forEachRow(view.shape, [contiguousStrides(view.shape), [...view.strides]], (off, len, st) => {
    let o = off[0]!, i = off[1]! + view.offset;
    const s = st[1]!;
    for (let t = 0; t < len; t++, o++, i += s) out[o] = x[i]!;
  });
  return out;
}

/** In place: dst at the strided view = src (contiguous, view.shape). */
export function scatterStrided(dst: TypedArray, src: TypedArray, view: StridedView): void {
  forEachRow(view.shape, [contiguousStrides(view.shape), [...view.strides]], (off, len, st) => {
    let o = off[0]!, i = off[1]! + view.offset;
    const s = st[1]!;
    for (let t = 0; t < len; t++, o++, i += s) dst[i] = src[o]!;
  });
}

export function layoutKernels(cpu: Cpu): LayoutKernels {
  return {
    gatherStrided: (x, view) => cpu.adopt(gatherStrided(elements(x), view), x.dtype),
    scatterStrided: (dst, src, view) => scatterStrided(elements(dst), elements(src), view),
  };
}
