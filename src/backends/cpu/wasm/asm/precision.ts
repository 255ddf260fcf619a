/**
 * The element type a kernel is generated for: float32 in f32x4 vectors or float64 in f64x2,
 * as the instructions that differ between the two. Everything else in the generators is byte
 * arithmetic on `bytes` and `lanes`.
 */
import { type FunctionBuilder, type ValType, f32, f64 } from './emitter.ts';

type Op = (f: FunctionBuilder) => void;
type MemOp = (f: FunctionBuilder, offset?: number) => void;

export interface Precision {
  readonly name: 'f32' | 'f64';
  /** Bytes per element, its log2, and elements per v128. */
  readonly bytes: 4 | 8;
  readonly log2Bytes: 2 | 3;
  readonly lanes: 4 | 2;
  /** The scalar value type (f32 or f64). */
  readonly scalar: ValType;
  /** Pushes the scalar constant v. */
  const(f: FunctionBuilder, v: number): void;
  /** Pushes a vector with v in every lane. */
  vconst(f: FunctionBuilder, v: number): void;
  /** Scalar load/store and arithmetic of one element. */
  load: MemOp;
  store: MemOp;
  add: Op;
  sub: Op;
  mul: Op;
  div: Op;
  /** Scalar max; NaN if either is NaN. */
  max: Op;
  /** Scalar a == b, a != b and a > b as an i32 0 or 1. */
  scalarEq: Op;
  scalarNe: Op;
  scalarGt: Op;
  /** Scalar → the scalar in every lane. */
  splat: Op;
  /** Loads one element into every lane. */
  loadSplat: MemOp;
  vadd: Op;
  vsub: Op;
  vmul: Op;
  vdiv: Op;
  /** Lane-wise max; NaN where either is NaN. */
  vmax: Op;
  vneg: Op;
  vabs: Op;
  vsqrt: Op;
  /** Lane-wise a > b and a == b as all-ones / all-zeros masks. */
  vgt: Op;
  veq: Op;
  extractLane(f: FunctionBuilder, lane: number): void;
  /** ptr v → v with `lane` loaded from ptr + offset; ptr v → stores `lane` of v at ptr + offset. */
  loadLane(f: FunctionBuilder, offset: number, lane: number): void;
  storeLane(f: FunctionBuilder, offset: number, lane: number): void;
}

function lanesOf(bytes: Uint8Array): number[] {
  return Array.from(bytes);
}

export const F32: Precision = {
  name: 'f32', bytes: 4, log2Bytes: 2, lanes: 4, scalar: f32,
  const: (f, v) => f.f32_const(v),
  vconst: (f, v) => f.v128_const(lanesOf(new Uint8Array(new Float32Array([v, v, v, v]).buffer))),
  load: (f, o) => f.f32_load(o),
  store: (f, o) => f.f32_store(o),
  add: (f) => f.f32_add(),
  sub: (f) => f.f32_sub(),
  mul: (f) => f.f32_mul(),
  div: (f) => f.f32_div(),
  max: (f) => f.f32_max(),
  scalarEq: (f) => f.f32_eq(),
  scalarNe: (f) => f.f32_ne(),
  scalarGt: (f) => f.f32_gt(),
  splat: (f) => f.f32x4_splat(),
  loadSplat: (f, o) => f.v128_load32_splat(o),
  vadd: (f) => f.f32x4_add(),
  vsub: (f) => f.f32x4_sub(),
  vmul: (f) => f.f32x4_mul(),
  vdiv: (f) => f.f32x4_div(),
  vmax: (f) => f.f32x4_max(),
  vneg: (f) => f.f32x4_neg(),
  vabs: (f) => f.f32x4_abs(),
  vsqrt: (f) => f.f32x4_sqrt(),
  vgt: (f) => f.f32x4_gt(),
  veq: (f) => f.f32x4_eq(),
  extractLane: (f, lane) => f.f32x4_extract_lane(lane),
  loadLane: (f, offset, lane) => f.v128_load32_lane(offset, lane),
  storeLane: (f, offset, lane) => f.v128_store32_lane(offset, lane),
};

export const F64: Precision = {
  name: 'f64', bytes: 8, log2Bytes: 3, lanes: 2, scalar: f64,
  const: (f, v) => f.f64_const(v),
  vconst: (f, v) => f.v128_const(lanesOf(new Uint8Array(new Float64Array([v, v]).buffer))),
  load: (f, o) => f.f64_load(o),
  store: (f, o) => f.f64_store(o),
  add: (f) => f.f64_add(),
  sub: (f) => f.f64_sub(),
  mul: (f) => f.f64_mul(),
  div: (f) => f.f64_div(),
  max: (f) => f.f64_max(),
  scalarEq: (f) => f.f64_eq(),
  scalarNe: (f) => f.f64_ne(),
  scalarGt: (f) => f.f64_gt(),
  splat: (f) => f.f64x2_splat(),
  loadSplat: (f, o) => f.v128_load64_splat(o),
  vadd: (f) => f.f64x2_add(),
  vsub: (f) => f.f64x2_sub(),
  vmul: (f) => f.f64x2_mul(),
  vdiv: (f) => f.f64x2_div(),
  vmax: (f) => f.f64x2_max(),
  vneg: (f) => f.f64x2_neg(),
  vabs: (f) => f.f64x2_abs(),
  vsqrt: (f) => f.f64x2_sqrt(),
  vgt: (f) => f.f64x2_gt(),
  veq: (f) => f.f64x2_eq(),
  extractLane: (f, lane) => f.f64x2_extract_lane(lane),
  loadLane: (f, offset, lane) => f.v128_load64_lane(offset, lane),
  storeLane: (f, offset, lane) => f.v128_store64_lane(offset, lane),
};

export const PRECISIONS = [F32, F64] as const;
