/**
 * The blocked GEMM around the micro-kernel (GotoBLAS loop nest), all in wasm:
 *
 *   for each batch matrix:
 *     for jc in 0..n step ncStep:                 a slab of C's columns
 *       for pc in 0..k step kcStep:               a depth slab; C = first slab, then +=
 *         packB: op(B)[pc:pc+kc, jc:jc+nc] → NR-column panels [nc/NR][kc][NR], zero-padded
 *         for ic in 0..m step mcStep:             a block of A's rows
 *           transA: packA: op(A)[ic:ic+mc, pc:pc+kc] → MR-row panels [mc/MR][kc][MR]
 *           for jr over NR panels:                 B panel (kc·NR) stays in L1
 *             tiles of MR rows down the block      A read in place ('rows') or packed ('panel')
 *
 * Exported `gemm_<p>`(a, b, c, m, n, k, lda, ldb, ldc, flags, kcStep, ncStep, mcStep, scratch,
 *                    batch, aBatch, bBatch, cBatch):
 *   C[m, n] = op(A)[m, k]·op(B)[k, n] for `batch` matrices, pointers in bytes, leading
 *   dimensions and batch strides in elements; flags = transA | transB << 1.
 *   op(A)[i, l] = A[i·lda + l] (or A[l·lda + i] when transA); op(B)[l, j] = B[l·ldb + j] (or
 *   B[j·ldb + l]); C[i, j] at c + (i·ldc + j)·bytes. The scratch holds the packed A block
 *   (mcStep·kcStep), the packed B slab (kcStep·ncStep rounded up to NR) and one edge tile.
 * A thread computes any sub-block of C by passing offset pointers and a smaller m or n. Only
 * kcStep decides the order in which a C element's terms are summed (k blocks in order, each
 * accumulated in order l inside one register), and the caller derives it from k alone, so
 * results are bitwise the same for every split.
 */
import { type FunctionBuilder, type Local, type ModuleBuilder, i32 } from '../asm/emitter.ts';
import { type AMode, type MicroShape, emitEdgeStore, emitTiles, tileCols } from './gemm-micro.ts';
import type { Precision } from '../asm/precision.ts';
import { forUp, inc, minU, repeat, set } from '../asm/structured.ts';

export const TRANS_A = 1, TRANS_B = 2;

/** Bytes of one thread's scratch for given steps. */
export function gemmScratchBytes(p: Precision, shape: MicroShape, kcStep: number, ncStep: number, mcStep: number): number {
  const NR = tileCols(shape, p);
  return (mcStep * kcStep + kcStep * Math.ceil(ncStep / NR) * NR + shape.mr * NR) * p.bytes;
}

/**
 * Scalar 2-D copy, dst[o·dstOuter + i·dstInner] = src[o·srcOuter + i·srcInner] for o < outer,
 * i < inner (strides in bytes). Params (src, srcOuter, srcInner, dst, dstOuter, dstInner, outer, inner).
 */
function emitCopy2d(mod: ModuleBuilder, p: Precision): FunctionBuilder {
  const f = mod.func(null, [i32, i32, i32, i32, i32, i32, i32, i32], []);
  const [src, srcOuter, srcInner, dst, dstOuter, dstInner, outer, inner] = f.params as [
    Local, Local, Local, Local, Local, Local, Local, Local];
  const i = f.local(i32), s = f.local(i32), d = f.local(i32);
  repeat(f, outer, () => {
    set(f, i, () => f.local_get(inner));
    set(f, s, () => f.local_get(src));
    set(f, d, () => f.local_get(dst));
    repeat(f, i, () => {
      f.local_get(d); f.local_get(s); p.load(f); p.store(f);
      inc(f, s, srcInner);
      inc(f, d, dstInner);
    });
    inc(f, src, srcOuter);
    inc(f, dst, dstOuter);
  });
  f.end();
  return f;
}

/** zero2d(dst, dstOuter, dstInner, outer, inner): dst[o·dstOuter + i·dstInner] = 0 (strides in bytes). */
function emitZero2d(mod: ModuleBuilder, p: Precision): FunctionBuilder {
  const f = mod.func(null, [i32, i32, i32, i32, i32], []);
  const [dst, dstOuter, dstInner, outer, inner] = f.params as [Local, Local, Local, Local, Local];
  const i = f.local(i32), d = f.local(i32);
  repeat(f, outer, () => {
    set(f, i, () => f.local_get(inner));
    set(f, d, () => f.local_get(dst));
    repeat(f, i, () => {
      f.local_get(d);
      p.const(f, 0);
      p.store(f);
      inc(f, d, dstInner);
    });
    inc(f, dst, dstOuter);
  });
  f.end();
  return f;
}

/** x = min(cap, total − pos), the extent of the block starting at pos. */
function setExtent(f: FunctionBuilder, x: Local, cap: Local | number, total: Local, pos: Local, scratch: Local): void {
  set(f, scratch, () => { f.local_get(total); f.local_get(pos); f.i32_sub(); });
  if (typeof cap === 'number') f.i32_const(cap); else f.local_get(cap);
  f.local_set(x);
  set(f, x, () => minU(f, x, scratch));
}

/** Emits fn(args...) for locals and constants. */
function call(f: FunctionBuilder, fn: FunctionBuilder, ...args: (Local | number)[]): void {
  for (const x of args) {
    if (typeof x === 'number') f.i32_const(x);
    else f.local_get(x);
  }
  f.call(fn);
}

/**
 * packB(b, ldbBytes, transB, kc, nc, dst): op(B)[l, j] for l < kc, j < nc → dst[(j/NR)·kc·NR + l·NR + j%NR],
 * zeros in the last panel past nc. Non-transposed full panels copy NR contiguous elements per row
 * with v128 loads/stores; transposed B and the ragged last panel go through copy2d.
 */
function emitPackB(mod: ModuleBuilder, p: Precision, shape: MicroShape, copy2d: FunctionBuilder, zero2d: FunctionBuilder): FunctionBuilder {
  const f = mod.func(null, [i32, i32, i32, i32, i32, i32], []);
  const [b, ldb, transB, kc, nc, dst] = f.params as [Local, Local, Local, Local, Local, Local];
  const NR = tileCols(shape, p), panelBytes = f.local(i32), full = f.local(i32), tail = f.local(i32);
  const l = f.local(i32), q = f.local(i32), s = f.local(i32), d = f.local(i32), tailDst = f.local(i32);
  set(f, panelBytes, () => { f.local_get(kc); f.i32_const(NR * p.bytes); f.i32_mul(); });
  set(f, full, () => { f.local_get(nc); f.i32_const(NR); f.i32_div_u(); });
  set(f, tail, () => { f.local_get(nc); f.i32_const(NR); f.i32_rem_u(); });
  // where the ragged panel starts: in B (element column full·NR) and in dst (panel `full`)
  set(f, tailDst, () => { f.local_get(dst); f.local_get(full); f.local_get(panelBytes); f.i32_mul(); f.i32_add(); });
  f.local_get(transB);
  f.if_();
  {
    // B stored [n, k]: column j of op(B) is row j of B, contiguous in l.
    // copy2d per panel: outer = columns j (src stride ldb, dst stride 1 element), inner = l.
    set(f, q, () => f.local_get(full));
    set(f, s, () => f.local_get(b));
    set(f, d, () => f.local_get(dst));
    repeat(f, q, () => {
      call(f, copy2d, s, ldb, p.bytes, d, p.bytes, NR * p.bytes, NR, kc);
      set(f, s, () => { f.local_get(s); f.local_get(ldb); f.i32_const(NR); f.i32_mul(); f.i32_add(); });
      inc(f, d, panelBytes);
    });
    f.local_get(tail);
    f.if_();
    call(f, copy2d, s, ldb, p.bytes, tailDst, p.bytes, NR * p.bytes, tail, kc);
    f.end();
  }
  f.else_();
  {
    // B stored [k, n]: row l of the slab is contiguous; each full panel gets NR elements of it.
    forUp(f, l, kc, 1, () => {
      set(f, s, () => { f.local_get(b); f.local_get(l); f.local_get(ldb); f.i32_mul(); f.i32_add(); });
      set(f, d, () => { f.local_get(dst); f.local_get(l); f.i32_const(NR * p.bytes); f.i32_mul(); f.i32_add(); });
      set(f, q, () => f.local_get(full));
      repeat(f, q, () => {
        for (let v = 0; v < shape.nrVectors; v++) {
          f.local_get(d); f.local_get(s); f.v128_load(v * 16); f.v128_store(v * 16);
        }
        inc(f, s, NR * p.bytes);
        inc(f, d, panelBytes);
      });
    });
    f.local_get(tail);
    f.if_();
    // ragged panel: outer = l (src stride ldb, dst stride NR), inner = its tail columns
    set(f, s, () => { f.local_get(b); f.local_get(full); f.i32_const(NR * p.bytes); f.i32_mul(); f.i32_add(); });
    call(f, copy2d, s, ldb, p.bytes, tailDst, NR * p.bytes, p.bytes, kc, tail);
    f.end();
  }
  f.end();
  // zero the ragged panel's missing columns: outer = columns tail..NR-1, inner = l
  f.local_get(tail);
  f.if_();
  set(f, d, () => { f.local_get(tailDst); f.local_get(tail); f.i32_const(p.bytes); f.i32_mul(); f.i32_add(); });
  set(f, q, () => { f.i32_const(NR); f.local_get(tail); f.i32_sub(); });
  call(f, zero2d, d, p.bytes, NR * p.bytes, q, kc);
  f.end();
  f.end();
  return f;
}

/**
 * macro_<mode>(a, aStride, pb, c, ldcBytes, mc, nc, kc, accumulate, edge): one (ic, pc, jc) block,
 * mc×nc of C from the A block and the packed B slab. For each NR panel of B (the ragged last one
 * included), the full MR-row tiles in one `tiles` call — the B panel (kc·NR) stays in L1 while A
 * streams from L2, the GotoBLAS order — then the leftover rows (rest < MR, by an if-chain on rest).
 * (The other order, a strip of A against all panels, was measured no faster, even for k = 16.)
 */
function emitMacro(
  mod: ModuleBuilder, p: Precision, shape: MicroShape, mode: AMode, tiles: FunctionBuilder[],
): FunctionBuilder {
  const f = mod.func(null, new Array<typeof i32>(10).fill(i32), []);
  const [a, aStride, pb, c, ldc, mc, nc, kc, accumulate, edge] = f.params as [
    Local, Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const MR = shape.mr, NR = tileCols(shape, p);
  const rowTiles = f.local(i32), rest = f.local(i32), aRest = f.local(i32), cRest = f.local(i32);
  const jr = f.local(i32), cols = f.local(i32), left = f.local(i32), panel = f.local(i32), cPanel = f.local(i32);
  set(f, rowTiles, () => { f.local_get(mc); f.i32_const(MR); f.i32_div_u(); });
  set(f, rest, () => { f.local_get(mc); f.i32_const(MR); f.i32_rem_u(); });
  // the first leftover row, rowTiles·MR rows down A (rows: ·aStride; panel: ·kc·bytes) and C
  set(f, aRest, () => {
    f.local_get(a); f.local_get(rowTiles); f.i32_const(MR); f.i32_mul();
    if (mode === 'rows') f.local_get(aStride); else { f.local_get(kc); f.i32_const(p.bytes); f.i32_mul(); }
    f.i32_mul(); f.i32_add();
  });
  set(f, cRest, () => { f.local_get(c); f.local_get(rowTiles); f.i32_const(MR); f.i32_mul(); f.local_get(ldc); f.i32_mul(); f.i32_add(); });
  forUp(f, jr, nc, NR, () => {
    setExtent(f, cols, NR, nc, jr, left);
    set(f, panel, () => { f.local_get(pb); f.local_get(jr); f.local_get(kc); f.i32_mul(); f.i32_const(p.bytes); f.i32_mul(); f.i32_add(); });
    set(f, cPanel, () => { f.local_get(jr); f.i32_const(p.bytes); f.i32_mul(); });
    /** tiles_rows(aPtr, aStride, panel, cBase + cPanel, ldc, kc, count, accumulate, cols, edge) */
    const callTiles = (rows: number, aPtr: Local, cBase: Local, count: Local | number): void => {
      f.local_get(aPtr); f.local_get(aStride); f.local_get(panel);
      f.local_get(cBase); f.local_get(cPanel); f.i32_add();
      f.local_get(ldc); f.local_get(kc);
      if (typeof count === 'number') f.i32_const(count); else f.local_get(count);
      f.local_get(accumulate); f.local_get(cols); f.local_get(edge);
      f.call(tiles[rows - 1]!);
    };
    callTiles(MR, a, c, rowTiles);
    for (let r = 1; r < MR; r++) {
      f.local_get(rest); f.i32_const(r); f.i32_eq();
      f.if_();
      callTiles(r, aRest, cRest, 1);
      f.end();
    }
  });
  f.end();
  return f;
}

/**
 * packA(a, ldaBytes, mc, kc, dst): A stored [k, m] → MR-row panels dst[(i/MR)·kc·MR + l·MR + i%MR].
 * A full panel's MR elements at depth l are contiguous in A: one MR·bytes copy per l (v128 and
 * 8-byte moves); the ragged last panel goes through copy2d.
 */
function emitPackA(mod: ModuleBuilder, p: Precision, shape: MicroShape, copy2d: FunctionBuilder): FunctionBuilder {
  const f = mod.func(null, [i32, i32, i32, i32, i32], []);
  const [a, lda, mc, kc, dst] = f.params as [Local, Local, Local, Local, Local];
  const MR = shape.mr, panelRowBytes = MR * p.bytes;
  if (panelRowBytes % 8 !== 0) throw new Error('packA copies 8-byte units: MR·bytes must be a multiple of 8');
  const panels = f.local(i32), rest = f.local(i32), l = f.local(i32), s = f.local(i32), d = f.local(i32);
  set(f, panels, () => { f.local_get(mc); f.i32_const(MR); f.i32_div_u(); });
  set(f, rest, () => { f.local_get(mc); f.i32_const(MR); f.i32_rem_u(); });
  set(f, d, () => f.local_get(dst));
  repeat(f, panels, () => {
    set(f, s, () => f.local_get(a));
    set(f, l, () => f.local_get(kc));
    repeat(f, l, () => {
      for (let o = 0; o < panelRowBytes;) {
        const wide = o + 16 <= panelRowBytes;
        f.local_get(d); f.local_get(s);
        if (wide) { f.v128_load(o); f.v128_store(o); } else { f.i64_load(o); f.i64_store(o); }
        o += wide ? 16 : 8;
      }
      inc(f, s, lda);
      inc(f, d, panelRowBytes);
    });
    inc(f, a, panelRowBytes);
  });
  // ragged panel: outer = l (src stride lda, dst stride MR), inner = its rows
  f.local_get(rest);
  f.if_();
  call(f, copy2d, a, lda, p.bytes, d, panelRowBytes, p.bytes, kc, rest);
  f.end();
  f.end();
  return f;
}

/** Adds gemm_<p> and its helpers to the module; returns the exported driver. */
export function emitGemm(mod: ModuleBuilder, p: Precision, shape: MicroShape): FunctionBuilder {
  const copy2d = emitCopy2d(mod, p), zero2d = emitZero2d(mod, p), edge = emitEdgeStore(mod, p, shape);
  const [macroRows, macroPanel] = (['rows', 'panel'] as const).map((mode) => {
    const tiles = Array.from({ length: shape.mr }, (_, r) => emitTiles(mod, p, shape, r + 1, mode, edge));
    return emitMacro(mod, p, shape, mode, tiles);
  }) as [FunctionBuilder, FunctionBuilder];
  const packB = emitPackB(mod, p, shape, copy2d, zero2d), packA = emitPackA(mod, p, shape, copy2d);

  const f = mod.func(`gemm_${p.name}`, new Array<typeof i32>(18).fill(i32), []);
  const [a, b, c, m, n, k, lda, ldb, ldc, flags, kcStep, ncStep, mcStep, scratch, batch, aBatch, bBatch, cBatch] =
    f.params as [Local, Local, Local, Local, Local, Local, Local, Local, Local, Local,
      Local, Local, Local, Local, Local, Local, Local, Local];
  const NR = tileCols(shape, p);
  const bits = (mask: number): void => { f.local_get(flags); f.i32_const(mask); f.i32_and(); };
  const packedA = f.local(i32), packedB = f.local(i32), edgeTile = f.local(i32), left = f.local(i32);
  const jc = f.local(i32), pc = f.local(i32), ic = f.local(i32), nc = f.local(i32), kc = f.local(i32), mc = f.local(i32);
  const transB = f.local(i32), accumulate = f.local(i32), slab = f.local(i32), cBlock = f.local(i32);

  for (const x of [lda, ldb, ldc, aBatch, bBatch, cBatch]) set(f, x, () => { f.local_get(x); f.i32_const(p.log2Bytes); f.i32_shl(); });
  set(f, transB, () => bits(TRANS_B));
  // scratch = [packed A: mcStep·kcStep | packed B: kcStep·⌈ncStep/NR⌉·NR | edge tile]
  set(f, packedA, () => f.local_get(scratch));
  set(f, packedB, () => { f.local_get(scratch); f.local_get(mcStep); f.local_get(kcStep); f.i32_mul(); f.i32_const(p.bytes); f.i32_mul(); f.i32_add(); });
  set(f, edgeTile, () => {
    f.local_get(packedB); f.local_get(ncStep); f.i32_const(NR - 1); f.i32_add(); f.i32_const(NR); f.i32_div_u();
    f.local_get(kcStep); f.i32_mul(); f.i32_const(NR * p.bytes); f.i32_mul(); f.i32_add();
  });
  repeat(f, batch, () => {
    // k = 0: C = 0
    f.local_get(k); f.i32_eqz();
    f.if_();
    call(f, zero2d, c, ldc, p.bytes, m, n);
    f.end();
    forUp(f, jc, n, ncStep, () => {
      setExtent(f, nc, ncStep, n, jc, left);
      forUp(f, pc, k, kcStep, () => {
        setExtent(f, kc, kcStep, k, pc, left);
        set(f, accumulate, () => f.local_get(pc)); // C = the first slab's product, then C += each next one
        // the slab's first element: op(B)[pc, jc] = B[jc·ldb + pc] (transB) or B[pc·ldb + jc]
        set(f, slab, () => {
          f.local_get(b);
          f.local_get(jc); f.local_get(ldb); f.i32_mul(); f.local_get(pc); f.i32_const(p.bytes); f.i32_mul(); f.i32_add();
          f.local_get(pc); f.local_get(ldb); f.i32_mul(); f.local_get(jc); f.i32_const(p.bytes); f.i32_mul(); f.i32_add();
          f.local_get(transB); f.select();
          f.i32_add();
        });
        call(f, packB, slab, ldb, transB, kc, nc, packedB);
        forUp(f, ic, m, mcStep, () => {
          setExtent(f, mc, mcStep, m, ic, left);
          set(f, cBlock, () => {
            f.local_get(c); f.local_get(ic); f.local_get(ldc); f.i32_mul(); f.i32_add();
            f.local_get(jc); f.i32_const(p.bytes); f.i32_mul(); f.i32_add();
          });
          bits(TRANS_A);
          f.if_();
          // A stored [k, m]: pack op(A)[ic:ic+mc, pc:pc+kc] from A[pc·lda + ic]
          set(f, slab, () => { f.local_get(a); f.local_get(pc); f.local_get(lda); f.i32_mul(); f.i32_add(); f.local_get(ic); f.i32_const(p.bytes); f.i32_mul(); f.i32_add(); });
          call(f, packA, slab, lda, mc, kc, packedA);
          call(f, macroPanel, packedA, 0, packedB, cBlock, ldc, mc, nc, kc, accumulate, edgeTile);
          f.else_();
          // A read in place from A[ic·lda + pc]
          set(f, slab, () => { f.local_get(a); f.local_get(ic); f.local_get(lda); f.i32_mul(); f.i32_add(); f.local_get(pc); f.i32_const(p.bytes); f.i32_mul(); f.i32_add(); });
          call(f, macroRows, slab, lda, packedB, cBlock, ldc, mc, nc, kc, accumulate, edgeTile);
          f.end();
        });
      });
    });
    inc(f, a, aBatch);
    inc(f, b, bBatch);
    inc(f, c, cBatch);
  });
  f.end();
  return f;
}
