/**
 * Vector idioms over rows: a row of `cols` elements is processed in groups of p.lanes, the full
 * groups in a loop and then the partial last group, whose lanes are loaded and stored one by one
 * (v128.load32_lane / store32_lane), so a kernel never reads or writes past its row — rows may
 * belong to another thread. Sums accumulate in float64 lanes (as the JavaScript tier does).
 */
import { type FunctionBuilder, type Local, i32, v128 } from './emitter.ts';
import { F64, type Precision } from './precision.ts';
import { inc, repeat, set } from './structured.ts';

/** Loads and stores of one group, full or partial. */
export interface VectorIO {
  /** Pushes the group at ptr; a partial group's missing lanes are `fill` (a constant in every lane, or a vector local). */
  load(ptr: Local, fill?: number | Local): void;
  /** Stores vector local v at ptr. */
  store(ptr: Local, v: Local): void;
}

/**
 * Runs body for every group of p.lanes elements of a row of `cols`: cursors (pointer locals at the
 * row's start) advance by 16 bytes after each full group; the partial group (cols mod lanes
 * elements) comes last, at the cursors' final positions.
 */
export function rowVectors(f: FunctionBuilder, p: Precision, cols: Local, cursors: readonly Local[], body: (io: VectorIO) => void): void {
  const count = f.local(i32), rest = f.local(i32), tmp = f.local(v128);
  set(f, count, () => { f.local_get(cols); f.i32_const(Math.log2(p.lanes)); f.i32_shr_u(); });
  set(f, rest, () => { f.local_get(cols); f.i32_const(p.lanes - 1); f.i32_and(); });
  repeat(f, count, () => {
    body({ load: (ptr) => { f.local_get(ptr); f.v128_load(); }, store: (ptr, v) => { f.local_get(ptr); f.local_get(v); f.v128_store(); } });
    for (const c of cursors) inc(f, c, 16);
  });
  /** Lanes 0 .. rest − 1 (rest < lanes): lane 0 always, lane j under `rest > j`. */
  const eachLane = (lane: (j: number) => void): void => {
    for (let j = 0; j < p.lanes - 1; j++) {
      if (j > 0) { f.local_get(rest); f.i32_const(j); f.i32_gt_u(); f.if_(); }
      lane(j);
    }
    for (let j = 1; j < p.lanes - 1; j++) f.end();
  };
  f.local_get(rest);
  f.if_();
  body({
    load: (ptr, fill = 0) => {
      if (typeof fill === 'number') p.vconst(f, fill); else f.local_get(fill);
      f.local_set(tmp);
      eachLane((j) => { f.local_get(ptr); f.local_get(tmp); p.loadLane(f, j * p.bytes, j); f.local_set(tmp); });
      f.local_get(tmp);
    },
    store: (ptr, v) => eachLane((j) => { f.local_get(ptr); f.local_get(v); p.storeLane(f, j * p.bytes, j); }),
  });
  f.end();
}

/** Two f64x2 accumulators of a float64 sum, and how to add a vector of p's lanes to them. */
export interface F64Sum {
  a: Local;
  b: Local;
}

export function f64Sum(f: FunctionBuilder): F64Sum {
  return { a: f.local(v128), b: f.local(v128) };
}

/** sum = 0. */
export function clearSum(f: FunctionBuilder, s: F64Sum): void {
  f.v128_const_zero(); f.local_set(s.a);
  f.v128_const_zero(); f.local_set(s.b);
}

/** sum += v (a vector local of p): f32 lanes 0, 1 into a and 2, 3 into b, widened exactly; f64 lanes into a. */
export function addToSum(f: FunctionBuilder, p: Precision, s: F64Sum, v: Local): void {
  if (p === F64) {
    f.local_get(s.a); f.local_get(v); f.f64x2_add(); f.local_set(s.a);
    return;
  }
  f.local_get(s.a); f.local_get(v); f.f64x2_promote_low_f32x4(); f.f64x2_add(); f.local_set(s.a);
  f.local_get(s.b); f.local_get(v); f.local_get(v); f.i8x16_shuffle(HIGH_HALF); f.f64x2_promote_low_f32x4(); f.f64x2_add(); f.local_set(s.b);
}

/** Bytes 8–15 of the first operand, twice: lanes 2, 3 of an f32x4 moved to lanes 0, 1. */
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/** Pushes the f64 total: (a + b) lane 0 + lane 1. */
export function totalOf(f: FunctionBuilder, s: F64Sum): void {
  const t = f.local(v128);
  f.local_get(s.a); f.local_get(s.b); f.f64x2_add(); f.local_set(t);
  f.local_get(t); f.f64x2_extract_lane(0);
  f.local_get(t); f.f64x2_extract_lane(1);
  f.f64_add();
}

/** Pushes the scalar max of the lanes of vector local v (NaN if any lane is NaN). */
export function maxOfLanes(f: FunctionBuilder, p: Precision, v: Local): void {
  f.local_get(v); p.extractLane(f, 0);
  for (let j = 1; j < p.lanes; j++) { f.local_get(v); p.extractLane(f, j); p.max(f); }
}
