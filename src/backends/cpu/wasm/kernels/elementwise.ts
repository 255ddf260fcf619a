/**
 * The elementwise group on the WebAssembly tier (kernels of gen/elementwise.ts). A kernel returns
 * null where it does not apply — an op or dtype it has no code for, or a full heap — and the CPU
 * backend runs the JavaScript kernel instead.
 */
import type { ElementwiseKernels, Storage, UnaryOp } from '../../../backend.ts';
import { BYTES_PER_ELEMENT, type DType } from '../../../../dtype.ts';
import { broadcastStrides, collapseAxes, contiguousStrides, sizeOf } from '../../../../shape.ts';
import { decodeHalfArray, encodeHalf, encodeHalfArray, HALF_FORMATS, isHalf, type HalfDType } from '../../../../half-float.ts';
import { rowSplit } from '../runtime/runtime.ts';
import { Operands, viewOf, type WasmCpu } from './operands.ts';
import type { Fallible } from './fallible.ts';

/** Flat kernels split between threads in whole 64-byte groups of elements. */
const FLAT_GRANULE = 16;
/** Work per element, in matmul flops of the same time (for the parallel threshold): a memory-bound op, and one with exp. */
const PLAIN = 2, TRANSCENDENTAL = 16;

const suffix = (dtype: DType): string | null => (dtype === 'float32' ? 'f32' : dtype === 'float64' ? 'f64' : null);

/** out = kernel(inputs…) over n elements of dtype, or null where there is no such kernel. */
function flat(cpu: WasmCpu, name: string, dtype: DType, inputs: Storage[], n: number, perElement: number): Storage | null {
  if (!cpu.rt.has(name)) return null;
  const ops = new Operands(cpu);
  const ptrs = inputs.map((s) => ops.input(s));
  const out = ops.output(dtype, n);
  if (!ops.ok) return ops.abandon();
  const B = BYTES_PER_ELEMENT[dtype], args = [...ptrs, out, n];
  cpu.rt.run(name, args, n * perElement, rowSplit(args, args.length - 1, args.slice(0, -1).map((_, i) => [i, B] as const), FLAT_GRANULE));
  return ops.finish()[0]!;
}

const EXACT = new Set<UnaryOp>(['neg', 'abs', 'sqrt', 'relu']);

/**
 * kernel(in_0, …, out, rows, len, in_0 row, in_0 inner, …) over the collapsed broadcast of the
 * inputs to outShape: the two innermost axes per call, outer ones looped here; rows split between
 * threads (or, for one row, its elements). Null where an inner stride is not 0 or 1.
 */
function broadcastRows(cpu: WasmCpu, name: string, inputs: [Storage, readonly number[]][], outShape: readonly number[], dtype: DType): Storage | null {
  // no broadcast (the common case): one row of every element, without collapsing axes
  const { shape, strides } = inputs.every(([s]) => s.size === inputs[0]![0].size) && inputs[0]![0].size === sizeOf(outShape)
    ? { shape: [sizeOf(outShape)], strides: [[1], ...inputs.map(() => [1])] }
    : collapseAxes(outShape, [contiguousStrides(outShape), ...inputs.map(([, s]) => broadcastStrides(s, outShape))]);
  const ins = strides.slice(1), rank = shape.length;
  if (rank > 0 && ins.some((s) => s[rank - 1]! > 1)) return null;
  const ops = new Operands(cpu);
  const ptrs = inputs.map(([s]) => ops.input(s)), size = sizeOf(outShape), out = ops.output(dtype, size);
  if (!ops.ok) return ops.abandon();
  const B = BYTES_PER_ELEMENT[dtype], k = inputs.length;
  const len = rank ? shape[rank - 1]! : 1, rows = rank > 1 ? shape[rank - 2]! : 1, slab = rows * len;
  const outer = shape.slice(0, Math.max(0, rank - 2));
  for (let o = 0; o < size / slab; o++) {
    // each input's offset at slab o (odometer over the outer axes)
    const offsets = ins.map(() => 0);
    for (let ax = outer.length - 1, r = o; ax >= 0; ax--) {
      const i = r % outer[ax]!;
      r = Math.floor(r / outer[ax]!);
      ins.forEach((s, j) => (offsets[j]! += i * s[ax]!));
    }
    const args = [...ptrs.map((p, j) => p + offsets[j]! * B), out + o * slab * B, rows, len, ...ins.flatMap((s) => [rank > 1 ? s[rank - 2]! : 0, rank > 0 ? s[rank - 1]! : 0])];
    const split = rows > 1
      ? rowSplit(args, k + 1, [...ins.map((_, j) => [j, args[k + 3 + 2 * j]! * B] as const), [k, len * B] as const])
      : rowSplit(args, k + 2, [...ins.map((_, j) => [j, args[k + 4 + 2 * j]! * B] as const), [k, B] as const], FLAT_GRANULE);
    cpu.rt.run(name, args, slab * PLAIN, split);
  }
  return ops.finish()[0]!;
}

/**
 * out = x ∘ value (value ∘ x with valueFirst): the binary kernel on one row of x.size elements,
 * the value in a one-element scratch block (rounded to x's dtype there) read with inner stride 0.
 */
function scalarRow(cpu: WasmCpu, name: string, x: Storage, value: number, valueFirst: boolean): Storage | null {
  const ops = new Operands(cpu);
  const px = ops.input(x), pv = ops.scratch(8), out = ops.output(x.dtype, x.size);
  if (!ops.ok) return ops.abandon();
  viewOf(cpu.rt, x.dtype, pv, 1)[0] = value;
  const B = BYTES_PER_ELEMENT[x.dtype];
  // binary(a, b, out, rows = 1, len, aRow, aInner, bRow, bInner)
  const args = valueFirst ? [pv, px, out, 1, x.size, 0, 0, 0, 1] : [px, pv, out, 1, x.size, 0, 1, 0, 0];
  cpu.rt.run(name, args, x.size * PLAIN, rowSplit(args, 4, [[valueFirst ? 1 : 0, B], [2, B]], FLAT_GRANULE));
  return ops.finish()[0]!;
}

export function wasmElementwise(cpu: WasmCpu): Fallible<ElementwiseKernels> {
  return {
    /**
     * float32 ↔ float16/bfloat16 (what half-precision.ts runs around every 16-bit kernel): the
     * JavaScript conversions (half-float.ts) between heap views, straight into the output block —
     * no host array to allocate and copy in.
     */
    cast: (x, dtype) => {
      const from = x.dtype;
      if (!cpu.rt.shared || !((isHalf(from) && dtype === 'float32') || (from === 'float32' && isHalf(dtype)))) return null;
      const ops = new Operands(cpu);
      const px = ops.input(x), out = ops.output(dtype, x.size);
      if (!ops.ok) return ops.abandon();
      const src = viewOf(cpu.rt, from, px, x.size), dst = viewOf(cpu.rt, dtype, out, x.size);
      if (isHalf(dtype)) encodeHalfArray(dtype, src as Float32Array, dst as Uint16Array);
      else decodeHalfArray(from as HalfDType, src as Uint16Array, dst as Float32Array);
      return ops.finish()[0]!;
    },
    /** A heap block filled in place (no wasm kernel: TypedArray.fill on the view). */
    full: (dtype, size, value) => {
      if (!cpu.rt.shared) return null;
      const ops = new Operands(cpu);
      const ptr = ops.output(dtype, size);
      if (!ops.ok) return ops.abandon();
      viewOf(cpu.rt, dtype, ptr, size).fill(isHalf(dtype) ? encodeHalf(HALF_FORMATS[dtype], value) : value);
      return ops.finish()[0]!;
    },
    unary: (op, x) => {
      const p = suffix(x.dtype);
      return p === null ? null : flat(cpu, `unary_${op}_${p}`, x.dtype, [x], x.size, EXACT.has(op) ? PLAIN : TRANSCENDENTAL);
    },
    unaryGrad: (op, saved, g) => {
      const p = suffix(g.dtype);
      if (!p || saved.dtype !== g.dtype) return null;
      return flat(cpu, `unarygrad_${op}_${p}`, g.dtype, [saved, g], g.size, op === 'gelu' || op === 'silu' ? TRANSCENDENTAL : PLAIN);
    },
    binary: (op, a, as, b, bs, os) => {
      const p = suffix(a.dtype);
      return p === null || b.dtype !== a.dtype ? null : broadcastRows(cpu, `binary_${op}_${p}`, [[a, as], [b, bs]], os, a.dtype);
    },
    binaryScalar: (op, x, value, valueFirst) => {
      const p = suffix(x.dtype);
      return p === null ? null : scalarRow(cpu, `binary_${op}_${p}`, x, value, valueFirst);
    },
    where: (c, cs, a, as, b, bs, os) => {
      const p = suffix(a.dtype);
      return p === null || b.dtype !== a.dtype || c.dtype !== a.dtype ? null : broadcastRows(cpu, `where_${p}`, [[c, cs], [a, as], [b, bs]], os, a.dtype);
    },
  };
}
