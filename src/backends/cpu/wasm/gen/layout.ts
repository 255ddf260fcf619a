/**
 * Strided copies (permute, slice, expand, concat), dtype-blind: elements are copied as 2-, 4- or
 * 8-byte words, so float32 and int32 share a kernel, and float16 and bfloat16 (bit patterns) another.
 *
 *   strided_<w>(from, to, n0, n1, n2, n3, s0, s1, s2, s3, scatter)
 *     element (i0, i1, i2, i3) of the [n0, n1, n2, n3] view sits at byte Σ i_k·s_k on the strided
 *     side and at ((i0·n1 + i1)·n2 + i2)·n3 + i3 words on the contiguous side;
 *     gather  (scatter = 0): to[contiguous] = from[strided]
 *     scatter (scatter = 1): to[strided] = from[contiguous]
 * Rows of n3 elements; a row whose strided side is contiguous too (s3 = w) is copied 16 bytes at
 * a time, then word by word.
 */
import { type Local, type ModuleBuilder, i32 } from '../asm/emitter.ts';
import { inc, repeat, set, whileAtLeast } from '../asm/structured.ts';

function emitStrided(mod: ModuleBuilder, w: 2 | 4 | 8): void {
  const f = mod.func(`strided_${w}`, new Array<typeof i32>(11).fill(i32), []);
  const [from, to, n0, n1, n2, n3, s0, s1, s2, s3, scatter] = f.params as Local[] as [
    Local, Local, Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const strided = f.local(i32), contiguous = f.local(i32), p1 = f.local(i32), p2 = f.local(i32);
  const c1 = f.local(i32), c2 = f.local(i32), src = f.local(i32), dst = f.local(i32), srcStep = f.local(i32), dstStep = f.local(i32);
  const bytes = f.local(i32), i2 = f.local(i32);
  // the strided side's base, the contiguous side's cursor
  set(f, strided, () => { f.local_get(to); f.local_get(from); f.local_get(scatter); f.select(); }); // scatter ? to : from
  set(f, contiguous, () => { f.local_get(from); f.local_get(to); f.local_get(scatter); f.select(); });
  const word = (load: boolean, offset = 0): void => {
    if (w === 2) { if (load) f.i32_load16_u(offset); else f.i32_store16(offset); }
    else if (w === 4) { if (load) f.i32_load(offset); else f.i32_store(offset); }
    else if (load) f.i64_load(offset); else f.i64_store(offset);
  };
  repeat(f, n0, () => {
    set(f, c1, () => f.local_get(n1));
    set(f, p1, () => f.local_get(strided));
    repeat(f, c1, () => {
      set(f, c2, () => f.local_get(n2));
      set(f, p2, () => f.local_get(p1));
      repeat(f, c2, () => {
        // one row: src/dst are the strided and contiguous cursors in the copy's direction
        set(f, src, () => { f.local_get(contiguous); f.local_get(p2); f.local_get(scatter); f.select(); });
        set(f, dst, () => { f.local_get(p2); f.local_get(contiguous); f.local_get(scatter); f.select(); });
        set(f, srcStep, () => { f.i32_const(w); f.local_get(s3); f.local_get(scatter); f.select(); });
        set(f, dstStep, () => { f.local_get(s3); f.i32_const(w); f.local_get(scatter); f.select(); });
        f.local_get(s3); f.i32_const(w); f.i32_eq();
        f.if_();
        set(f, bytes, () => { f.local_get(n3); f.i32_const(Math.log2(w)); f.i32_shl(); });
        whileAtLeast(f, bytes, 16, () => { f.local_get(dst); f.local_get(src); f.v128_load(); f.v128_store(); inc(f, src, 16); inc(f, dst, 16); });
        whileAtLeast(f, bytes, w, () => { f.local_get(dst); f.local_get(src); word(true); word(false); inc(f, src, w); inc(f, dst, w); });
        f.else_();
        set(f, i2, () => f.local_get(n3));
        repeat(f, i2, () => { f.local_get(dst); f.local_get(src); word(true); word(false); inc(f, src, srcStep); inc(f, dst, dstStep); });
        f.end();
        set(f, contiguous, () => { f.local_get(contiguous); f.local_get(n3); f.i32_const(Math.log2(w)); f.i32_shl(); f.i32_add(); });
        inc(f, p2, s2);
      });
      inc(f, p1, s1);
    });
    inc(f, strided, s0);
  });
  f.end();
}

/** Adds strided_2, strided_4 and strided_8. */
export function emitLayout(mod: ModuleBuilder): void {
  emitStrided(mod, 2);
  emitStrided(mod, 4);
  emitStrided(mod, 8);
}
