/**
 * The register-blocked micro-kernel: C[mr, NR] (+)= A[mr, kc]·Bpanel[kc, NR], with the mr×NR tile
 * of C in mr·V v128 accumulators (V = NR / lanes vectors per row), XNNPACK's "loadsplat" form:
 *
 *   for l in 0..kc:
 *     b_v   = v128.load(Bpanel + (l·NR + v·lanes)·bytes)          v = 0..V-1
 *     for r in 0..mr:
 *       a   = load_splat(A[r, l])                                 one element in every lane
 *       acc[r][v] += a·b_v                                        f32x4.mul, then f32x4.add
 *
 * Register budget (x64 has 16 xmm, V8 reserves one as scratch): V8's TurboFan emits every load of
 * a k step before the arithmetic that uses it, so a step needs accumulators + all its loaded
 * vectors + one product temporary live at once. 8 accumulators fit: 2×16 f32 (8 + 4 B + 2 A + 1
 * = 15) and 4×8 run at ≈ 50 GFLOP/s, the mul+add peak here; 6×8 (12 accumulators, XNNPACK's
 * choice with native compilers) spills and halves that. Unrolling k does the same (the loads of
 * all unrolled steps are hoisted together), so the loop is not unrolled.
 *
 * A comes in two layouts (`AMode`):
 * - 'rows':  A read in place, row-major: A[r, l] at a + r·aStride + l·bytes (one pointer per row),
 *            used for non-transposed A, so the big operand of X·A is never copied.
 * - 'panel': A packed by packA: A[r, l] at a + (l·MR + r)·bytes (one pointer).
 * B is always a packed panel: Bpanel[l, j] at b + (l·NR + j)·bytes, zero-padded past n.
 *
 * One generated function (per row count mr = 1..MR and A layout) runs `count` tiles down the rows
 * of C against one B panel: the macro-kernel (gemm-blocked.ts) calls it once per panel for all the
 * full MR-row tiles, and once more for the leftover rows.
 */
import { type FunctionBuilder, type Local, type ModuleBuilder, i32, v128 } from '../asm/emitter.ts';
import type { Precision } from '../asm/precision.ts';
import { inc, repeat, set } from '../asm/structured.ts';

export type AMode = 'rows' | 'panel';

export interface MicroShape {
  /** Rows of a full tile (MR). */
  readonly mr: number;
  /** v128 vectors per tile row; NR = nrVectors·lanes columns. */
  readonly nrVectors: number;
}

/** Columns of a tile, NR. */
export function tileCols(shape: MicroShape, p: Precision): number {
  return shape.nrVectors * p.lanes;
}

/**
 * Scalar store of an edge tile (cols < NR): C[r, j] (+)= tile[r·NR + j] for r < rows, j < cols.
 * Params (tile, c, ldcBytes, rows, cols, accumulate).
 */
export function emitEdgeStore(mod: ModuleBuilder, p: Precision, shape: MicroShape): FunctionBuilder {
  const f = mod.func(null, [i32, i32, i32, i32, i32, i32], []);
  const [tile, c, ldc, rows, cols, accumulate] = f.params as [Local, Local, Local, Local, Local, Local];
  const j = f.local(i32), src = f.local(i32), dst = f.local(i32);
  const rowBytes = tileCols(shape, p) * p.bytes;
  repeat(f, rows, () => {
    set(f, j, () => f.local_get(cols));
    set(f, src, () => f.local_get(tile));
    set(f, dst, () => f.local_get(c));
    repeat(f, j, () => {
      // C[r, j] = accumulate ? tile + C[r, j] : tile
      f.local_get(dst);
      f.local_get(src);
      p.load(f);
      f.local_get(dst);
      p.load(f);
      p.add(f);
      f.local_get(src);
      p.load(f);
      f.local_get(accumulate);
      f.select();
      p.store(f);
      inc(f, src, p.bytes);
      inc(f, dst, p.bytes);
    });
    inc(f, tile, rowBytes);
    inc(f, c, ldc);
  });
  f.end();
  return f;
}

/**
 * `count` tiles of mr rows stacked down C: params (a, aStride, b, c, ldcBytes, kc, count,
 * accumulate, cols, edge). aStride is the byte distance between A rows ('rows' mode; ignored for
 * 'panel'); cols < NR sends each tile through `edgeStore` via the scratch tile at `edge`.
 */
export function emitTiles(
  mod: ModuleBuilder, p: Precision, shape: MicroShape, mr: number, mode: AMode,
  edgeStore: FunctionBuilder,
): FunctionBuilder {
  const f = mod.func(null, new Array<typeof i32>(10).fill(i32), []);
  const [a, aStride, b, c, ldc, kc, count, accumulate, cols, edge] = f.params as [
    Local, Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const V = shape.nrVectors, NR = tileCols(shape, p), MR = shape.mr;
  const acc = Array.from({ length: mr }, () => Array.from({ length: V }, () => f.local(v128)));
  const bv = Array.from({ length: V }, () => f.local(v128));
  const av = f.local(v128);
  const rowPtr = Array.from({ length: mode === 'rows' ? mr : 1 }, () => f.local(i32));
  const pb = f.local(i32), steps = f.local(i32), cRow = f.local(i32);

  /** One k step: loads at immediate offsets from the current pointers, then mr·V updates. */
  const kStep = (): void => {
    for (let v = 0; v < V; v++) {
      f.local_get(pb);
      f.v128_load(v * 16);
      f.local_set(bv[v]!);
    }
    for (let r = 0; r < mr; r++) {
      if (mode === 'rows') {
        f.local_get(rowPtr[r]!);
        p.loadSplat(f);
      } else {
        f.local_get(rowPtr[0]!);
        p.loadSplat(f, r * p.bytes);
      }
      f.local_set(av);
      for (let v = 0; v < V; v++) {
        const x = acc[r]![v]!;
        f.local_get(x); f.local_get(av); f.local_get(bv[v]!); p.vmul(f); p.vadd(f);
        f.local_set(x);
      }
    }
  };

  repeat(f, count, () => {
    for (const row of acc) for (const x of row) { f.v128_const_zero(); f.local_set(x); }
    set(f, rowPtr[0]!, () => f.local_get(a));
    for (let r = 1; r < rowPtr.length; r++) {
      set(f, rowPtr[r]!, () => { f.local_get(rowPtr[r - 1]!); f.local_get(aStride); f.i32_add(); });
    }
    set(f, pb, () => f.local_get(b));
    set(f, steps, () => f.local_get(kc));
    repeat(f, steps, () => {
      kStep();
      inc(f, pb, NR * p.bytes);
      if (mode === 'rows') for (const ptr of rowPtr) inc(f, ptr, p.bytes);
      else inc(f, rowPtr[0]!, MR * p.bytes);
    });
    emitStore(f, p, acc, NR, { c, ldc, accumulate, cols, edge, cRow }, edgeStore, mr);
    // next tile, mr rows down: A by mr rows (rows) or one MR·kc panel (panel), C by mr rows
    set(f, a, () => {
      f.local_get(a);
      if (mode === 'rows') { f.local_get(aStride); f.i32_const(mr); } else { f.local_get(kc); f.i32_const(MR * p.bytes); }
      f.i32_mul(); f.i32_add();
    });
    set(f, c, () => { f.local_get(c); f.local_get(ldc); f.i32_const(mr); f.i32_mul(); f.i32_add(); });
  });
  f.end();
  return f;
}

/**
 * Writes the accumulators to C: a full-width tile with vector stores (C = acc or C += acc per
 * `accumulate`), a narrower one through the scratch tile and the scalar edge store.
 */
function emitStore(
  f: FunctionBuilder, p: Precision, acc: Local[][], NR: number,
  l: { c: Local; ldc: Local; accumulate: Local; cols: Local; edge: Local; cRow: Local },
  edgeStore: FunctionBuilder, mr: number,
): void {
  const vectorRows = (add: boolean): void => {
    set(f, l.cRow, () => f.local_get(l.c));
    acc.forEach((row, r) => {
      row.forEach((x, v) => {
        const offset = v * 16;
        f.local_get(l.cRow);
        if (add) { f.local_get(l.cRow); f.v128_load(offset); f.local_get(x); p.vadd(f); } else f.local_get(x);
        f.v128_store(offset);
      });
      if (r + 1 < acc.length) inc(f, l.cRow, l.ldc);
    });
  };
  f.local_get(l.cols);
  f.i32_const(NR);
  f.i32_eq();
  f.if_();
  f.local_get(l.accumulate);
  f.if_();
  vectorRows(true);
  f.else_();
  vectorRows(false);
  f.end();
  f.else_();
  acc.forEach((row, r) => row.forEach((x, v) => {
    f.local_get(l.edge);
    f.local_get(x);
    f.v128_store((r * NR + v * p.lanes) * p.bytes);
  }));
  f.local_get(l.edge); f.local_get(l.c); f.local_get(l.ldc);
  f.i32_const(mr); f.local_get(l.cols); f.local_get(l.accumulate);
  f.call(edgeStore);
  f.end();
}
