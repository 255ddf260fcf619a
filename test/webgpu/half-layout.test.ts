/**
 * The WebGPU kernels that move float16/bfloat16 elements without computing (gatherStrided,
 * scatterStrided, gatherRows), called below withHalfPrecision on packed storages: the 16-bit
 * patterns land where a host-side copy puts them, for random strided views (slices, permutations,
 * broadcasts, odd sizes and odd offsets, so elements change halves of their words) and rows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StridedView } from '../../src/backends/backend.ts';
import { layoutKernels } from '../../src/backends/webgpu/kernels/layout.ts';
import { nnKernels } from '../../src/backends/webgpu/kernels/nn.ts';
import { contiguousStrides, sizeOf } from '../../src/shape.ts';
import { skipReason, webgpu } from './gpu.ts';

/** Position of element i (row-major over view.shape) in the strided storage. */
function viewIndex(view: StridedView, i: number): number {
  let at = view.offset, rem = i;
  for (let d = view.shape.length - 1; d >= 0; d--) {
    at += (rem % view.shape[d]!) * view.strides[d]!;
    rem = Math.floor(rem / view.shape[d]!);
  }
  return at;
}

/**
 * A view into a contiguous parent of `parent` shape: a slice [start, start + size) on every axis,
 * its axes permuted, and (if `broadcast`) some size-1 axes stretched with stride 0.
 */
const viewCase = (broadcast: boolean) => fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 }).chain((parent) => fc.record({
  parent: fc.constant(parent),
  cut: fc.tuple(...parent.map((p) => fc.integer({ min: 0, max: p - 1 }).chain((start) => fc.tuple(fc.constant(start), fc.integer({ min: 1, max: p - start }))))),
  order: fc.shuffledSubarray([...parent.keys()], { minLength: parent.length, maxLength: parent.length }),
  stretch: broadcast ? fc.integer({ min: 2, max: 5 }) : fc.constant(1),
})).map(({ parent, cut, order, stretch }) => {
  const strides = contiguousStrides(parent);
  const shape = order.map((a) => cut[a]![1]), viewStrides = order.map((a) => strides[a]!);
  const offset = cut.reduce((o, [start], a) => o + start * strides[a]!, 0);
  // a size-1 axis broadcast to `stretch` (stride 0) in front
  const view: StridedView = stretch > 1 ? { shape: [stretch, ...shape], strides: [0, ...viewStrides], offset } : { shape, strides: viewStrides, offset };
  return { parentSize: sizeOf(parent), view };
});

const bitsOf = (n: number, seed: number) => Uint16Array.from({ length: n }, (_, i) => (Math.imul(i + 1, 40503) + seed * 977) & 0xffff);

describe.skipIf(!webgpu)(`WebGPU 16-bit gather and scatter (packed words) ${skipReason}`, () => {
  const gpu = webgpu!;
  const layout = layoutKernels(gpu), nn = nnKernels(gpu);

  for (const dtype of ['float16', 'bfloat16'] as const) {
    it(`gatherStrided copies the ${dtype} patterns of slices, permutations and broadcasts`, async () => {
      await fc.assert(fc.asyncProperty(viewCase(false), viewCase(true), fc.nat(1000), async (a, b, seed) => {
        for (const { parentSize, view } of [a, b]) {
          const src = bitsOf(parentSize, seed);
          const x = gpu.upload(src, dtype);
          const out = layout.gatherStrided(x, view);
          const got = await gpu.read(out);
          expect(out.dtype).toBe(dtype);
          expect(got).toEqual(Uint16Array.from({ length: sizeOf(view.shape) }, (_, i) => src[viewIndex(view, i)]!));
          x.release();
          out.release();
        }
      }), { numRuns: 30 });
    });

    it(`scatterStrided writes ${dtype} patterns into a view in place and leaves every other element (and the other half of each word) alone`, async () => {
      await fc.assert(fc.asyncProperty(viewCase(false), fc.nat(1000), async ({ parentSize, view }, seed) => {
        const before = bitsOf(parentSize, seed), values = bitsOf(sizeOf(view.shape), seed + 1);
        const dst = gpu.upload(before, dtype), src = gpu.upload(values, dtype);
        layout.scatterStrided(dst, src, view);
        const expected = before.slice();
        values.forEach((v, i) => { expected[viewIndex(view, i)] = v; });
        expect(await gpu.read(dst)).toEqual(expected);
        dst.release();
        src.release();
      }), { numRuns: 30 });
    });

    it(`gatherRows copies ${dtype} rows (odd widths; an out-of-range index gives a zero row)`, async () => {
      for (const [rows, dim, indices] of [[5, 3, [4, 0, 0, 2, 9, -1, 1]], [4, 1, [3, 1, 2]], [3, 8, [2]]] as const) {
        const table = bitsOf(rows * dim, dim);
        const t = gpu.upload(table, dtype), idx = gpu.upload(Int32Array.from(indices));
        const out = nn.gatherRows(t, idx, indices.length, dim);
        const expected = Uint16Array.from({ length: indices.length * dim }, (_, i) => {
          const r = indices[Math.floor(i / dim)]!;
          return r < 0 || r >= rows ? 0 : table[r * dim + (i % dim)]!;
        });
        expect(await gpu.read(out)).toEqual(expected);
        for (const s of [t, idx, out]) s.release();
      }
    });
  }
});
