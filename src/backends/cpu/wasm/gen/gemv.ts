/**
 * Matrix·vector products, for C with a single row or column (m = 1 or n = 1), where packing a
 * whole operand for one output line would cost as much as the product. Every element of the
 * matrix is read once, so these run at memory speed; two forms cover all transposes:
 *
 *   dots_<p>(M, ldm, v, out, rows, k, batch, mBatch, vBatch, outBatch)
 *     out[i] = Σ_l M[i·ldm + l]·v[l]           rows of M contiguous in l
 *     4 rows at a time, one f32x4 partial sum per row along l, reduced lane by lane at the end
 *   axpy_<p>(M, ldm, v, out, cols, k, batch, mBatch, vBatch, outBatch)
 *     out[j] = Σ_l v[l]·M[l·ldm + j]           rows of M contiguous in j
 *     out is the accumulator (it stays in L1 for the sizes that matter): 4 rows of M at a time
 *     stream through it, out[j..] += v_l·M[l, j..] + … + v_l+3·M[l+3, j..], so M is read
 *     strictly sequentially (column chunks down the rows would read it at a 4 KiB stride)
 *
 * v and out are contiguous; pointers in bytes, ldm and batch strides in elements. The matmul
 * driver maps m = 1 / n = 1 products onto these (matmul.ts).
 */
import { type FunctionBuilder, type Local, type ModuleBuilder, i32, v128 } from '../asm/emitter.ts';
import type { Precision } from '../asm/precision.ts';
import { inc, repeat, set, whileAtLeast } from '../asm/structured.ts';

type GemvParams = [Local, Local, Local, Local, Local, Local, Local, Local, Local, Local];

/** The shared prologue/epilogue: strides to bytes, and the batch loop around `body`. */
function emitBatched(mod: ModuleBuilder, name: string, p: Precision, body: (f: FunctionBuilder, x: GemvParams) => void): void {
  const f = mod.func(name, new Array<typeof i32>(10).fill(i32), []);
  const x = f.params as GemvParams;
  const [M, ldm, v, out, , , batch, mBatch, vBatch, outBatch] = x;
  for (const s of [ldm, mBatch, vBatch, outBatch]) set(f, s, () => { f.local_get(s); f.i32_const(p.log2Bytes); f.i32_shl(); });
  repeat(f, batch, () => {
    body(f, x);
    inc(f, M, mBatch);
    inc(f, v, vBatch);
    inc(f, out, outBatch);
  });
  f.end();
}

/** out[i] = s_i. */
function storeScalar(f: FunctionBuilder, p: Precision, ptr: Local, offset: number, s: Local): void {
  f.local_get(ptr);
  f.local_get(s);
  p.store(f, offset);
}

function emitDots(mod: ModuleBuilder, p: Precision): void {
  emitBatched(mod, `dots_${p.name}`, p, (f, [M, ldm, v, out, rows, k]) => {
    const left = f.local(i32), row = f.local(i32), o = f.local(i32), steps = f.local(i32), pv = f.local(i32);
    const vv = f.local(v128);
    set(f, left, () => f.local_get(rows));
    set(f, row, () => f.local_get(M));
    set(f, o, () => f.local_get(out));
    for (const R of [4, 1]) {
      const acc = Array.from({ length: R }, () => f.local(v128));
      const sum = Array.from({ length: R }, () => f.local(p.scalar));
      const ptr = Array.from({ length: R }, () => f.local(i32));
      whileAtLeast(f, left, R, () => {
        for (let r = 0; r < R; r++) {
          f.v128_const_zero(); f.local_set(acc[r]!);
          set(f, ptr[r]!, () => { f.local_get(row); f.local_get(ldm); f.i32_const(r); f.i32_mul(); f.i32_add(); });
        }
        set(f, pv, () => f.local_get(v));
        // vector part: acc_r += M[r, l..l+lanes]·v[l..l+lanes]
        set(f, steps, () => { f.local_get(k); f.i32_const(Math.log2(p.lanes)); f.i32_shr_u(); });
        repeat(f, steps, () => {
          f.local_get(pv); f.v128_load(); f.local_set(vv);
          for (let r = 0; r < R; r++) {
            f.local_get(acc[r]!); f.local_get(ptr[r]!); f.v128_load(); f.local_get(vv); p.vmul(f); p.vadd(f); f.local_set(acc[r]!);
            inc(f, ptr[r]!, 16);
          }
          inc(f, pv, 16);
        });
        // lanes summed pairwise: (a0 + a1) + (a2 + a3), or a0 + a1
        for (let r = 0; r < R; r++) {
          const lane = (i: number): void => { f.local_get(acc[r]!); p.extractLane(f, i); };
          lane(0); lane(1); p.add(f);
          if (p.lanes === 4) { lane(2); lane(3); p.add(f); p.add(f); }
          f.local_set(sum[r]!);
        }
        // scalar tail: the last k mod lanes terms
        set(f, steps, () => { f.local_get(k); f.i32_const(p.lanes - 1); f.i32_and(); });
        repeat(f, steps, () => {
          for (let r = 0; r < R; r++) {
            f.local_get(sum[r]!); f.local_get(ptr[r]!); p.load(f); f.local_get(pv); p.load(f); p.mul(f); p.add(f); f.local_set(sum[r]!);
            inc(f, ptr[r]!, p.bytes);
          }
          inc(f, pv, p.bytes);
        });
        for (let r = 0; r < R; r++) storeScalar(f, p, o, r * p.bytes, sum[r]!);
        set(f, row, () => { f.local_get(row); f.local_get(ldm); f.i32_const(R); f.i32_mul(); f.i32_add(); });
        inc(f, o, R * p.bytes);
      });
    }
  });
}

function emitAxpy(mod: ModuleBuilder, p: Precision): void {
  emitBatched(mod, `axpy_${p.name}`, p, (f, [M, ldm, v, out, cols, k]) => {
    const rowsLeft = f.local(i32), row = f.local(i32), pv = f.local(i32), o = f.local(i32), j = f.local(i32);
    const acc = f.local(v128), sum = f.local(p.scalar);
    // clear out first, then every row group adds into it
    set(f, o, () => f.local_get(out));
    set(f, j, () => f.local_get(cols));
    whileAtLeast(f, j, p.lanes, () => { f.local_get(o); f.v128_const_zero(); f.v128_store(); inc(f, o, 16); });
    whileAtLeast(f, j, 1, () => { f.local_get(o); p.const(f, 0); p.store(f); inc(f, o, p.bytes); });
    set(f, rowsLeft, () => f.local_get(k));
    set(f, row, () => f.local_get(M));
    set(f, pv, () => f.local_get(v));
    // groups of R rows: out[j] += Σ_r v[l+r]·M[l+r, j], vectors of out then its scalar tail
    for (const R of [4, 1]) {
      const splat = Array.from({ length: R }, () => f.local(v128));
      const ptr = Array.from({ length: R }, () => f.local(i32));
      whileAtLeast(f, rowsLeft, R, () => {
        for (let r = 0; r < R; r++) {
          f.local_get(pv); p.loadSplat(f, r * p.bytes); f.local_set(splat[r]!);
          set(f, ptr[r]!, () => { f.local_get(row); f.local_get(ldm); f.i32_const(r); f.i32_mul(); f.i32_add(); });
        }
        set(f, o, () => f.local_get(out));
        set(f, j, () => f.local_get(cols));
        whileAtLeast(f, j, p.lanes, () => {
          f.local_get(o); f.v128_load(); f.local_set(acc);
          for (let r = 0; r < R; r++) {
            f.local_get(acc); f.local_get(ptr[r]!); f.v128_load(); f.local_get(splat[r]!); p.vmul(f); p.vadd(f); f.local_set(acc);
            inc(f, ptr[r]!, 16);
          }
          f.local_get(o); f.local_get(acc); f.v128_store();
          inc(f, o, 16);
        });
        whileAtLeast(f, j, 1, () => {
          f.local_get(o); p.load(f); f.local_set(sum);
          for (let r = 0; r < R; r++) {
            f.local_get(sum); f.local_get(ptr[r]!); p.load(f); f.local_get(pv); p.load(f, r * p.bytes); p.mul(f); p.add(f); f.local_set(sum);
            inc(f, ptr[r]!, p.bytes);
          }
          f.local_get(o); f.local_get(sum); p.store(f);
          inc(f, o, p.bytes);
        });
        set(f, row, () => { f.local_get(row); f.local_get(ldm); f.i32_const(R); f.i32_mul(); f.i32_add(); });
        inc(f, pv, R * p.bytes);
      });
    }
  });
}

/** Adds dots_<p> and axpy_<p> to the module. */
export function emitGemv(mod: ModuleBuilder, p: Precision): void {
  emitDots(mod, p);
  emitAxpy(mod, p);
}
