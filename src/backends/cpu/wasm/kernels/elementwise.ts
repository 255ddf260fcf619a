/**
 * The elementwise group on the WebAssembly tier (kernels of gen/elementwise.ts). A kernel returns
 * null where it does not apply — an op or dtype it has no code for, or a full heap — and the CPU
 * backend runs the JavaScript kernel instead.
 */
import type { BinaryOp, ElementwiseKernels, Storage, UnaryOp } from '../../../backend.ts';
import { BYTES_PER_ELEMENT, type DType } from '../../../../dtype.ts';
import { broadcastStrides, collapseAxes, contiguousStrides, sizeOf } from '../../../../shape.ts';
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

/** binary_<op>_<p> over the collapsed broadcast: two innermost axes per call, outer ones looped here. */
function binary(cpu: WasmCpu, op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage | null {
  const p = suffix(a.dtype);
  if (!p || b.dtype !== a.dtype) return null;
  const { shape, strides } = collapseAxes(outShape, [contiguousStrides(outShape), broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)]);
  const [, as, bs] = strides as [number[], number[], number[]];
  const rank = shape.length;
  // inner strides are 0 (broadcast) or 1 for contiguous operands; anything else stays in JavaScript
  if (rank > 0 && [as, bs].some((s) => s[rank - 1]! > 1)) return null;
  const ops = new Operands(cpu);
  const pa = ops.input(a), pb = ops.input(b), size = sizeOf(outShape), out = ops.output(a.dtype, size);
  if (!ops.ok) return ops.abandon();
  const B = BYTES_PER_ELEMENT[a.dtype], name = `binary_${op}_${p}`;
  const len = rank ? shape[rank - 1]! : 1, rows = rank > 1 ? shape[rank - 2]! : 1;
  const at = (s: number[], axis: number): number => (axis >= 0 ? s[axis]! : 0);
  const outer = shape.slice(0, Math.max(0, rank - 2));
  const slab = rows * len;
  for (let o = 0; o < size / slab; o++) {
    // offsets of slab o along the outer axes (odometer over `outer`)
    let ao = 0, bo = 0;
    for (let ax = outer.length - 1, r = o; ax >= 0; ax--) {
      const i = r % outer[ax]!;
      r = Math.floor(r / outer[ax]!);
      ao += i * as[ax]!;
      bo += i * bs[ax]!;
    }
    const args = [pa + ao * B, pb + bo * B, out + o * slab * B, rows, len, at(as, rank - 2), at(as, rank - 1), at(bs, rank - 2), at(bs, rank - 1)];
    const split = rows > 1
      ? rowSplit(args, 3, [[0, args[5]! * B], [1, args[7]! * B], [2, len * B]])
      : rowSplit(args, 4, [[0, args[6]! * B], [1, args[8]! * B], [2, B]], FLAT_GRANULE);
    cpu.rt.run(name, args, slab * PLAIN, split);
  }
  return ops.finish()[0]!;
}

export function wasmElementwise(cpu: WasmCpu): Fallible<ElementwiseKernels> {
  return {
    /** A heap block filled in place (no wasm kernel: TypedArray.fill on the view). */
    full: (dtype, size, value) => {
      if (!cpu.rt.shared) return null;
      const ops = new Operands(cpu);
      const ptr = ops.output(dtype, size);
      if (!ops.ok) return ops.abandon();
      viewOf(cpu.rt, dtype, ptr, size).fill(value);
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
    binary: (op, a, as, b, bs, os) => binary(cpu, op, a, as, b, bs, os),
  };
}
