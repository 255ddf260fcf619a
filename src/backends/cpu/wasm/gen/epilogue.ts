/**
 * The matmul epilogue, a pass over the product C [rows, n] in place (threads split the rows):
 *
 *   epilogue_<p>(out, bias, c, rows, n, alpha)
 *     out[r, j] = (alpha·out[r, j] + bias[j]) + c[r, j]      bias = 0 or c = 0: that term is absent
 *
 * alpha is an f64 parameter rounded to p; every operation is one IEEE operation of p, in the
 * order written, so the vector lanes and the scalar tail of a row give the same bits. float64
 * therefore gives the JavaScript tier's bits; float32 rounds after each operation (the
 * JavaScript tier rounds the float64 sum once: the two differ by at most an ulp per operation).
 */
import { type Local, type ModuleBuilder, f64, i32, v128 } from '../asm/emitter.ts';
import { F32, type Precision } from '../asm/precision.ts';
import { byFlags, inc, repeat, set } from '../asm/structured.ts';

export function emitEpilogue(mod: ModuleBuilder, p: Precision): void {
  const f = mod.func(`epilogue_${p.name}`, [i32, i32, i32, i32, i32, f64], []);
  const [out, bias, c, rows, n, alpha] = f.params as [Local, Local, Local, Local, Local, Local];
  const po = f.local(i32), pb = f.local(i32), count = f.local(i32), va = f.local(v128), sa = f.local(p.scalar);
  set(f, sa, () => { f.local_get(alpha); if (p === F32) f.f32_demote_f64(); });
  set(f, va, () => { f.local_get(sa); p.splat(f); });
  /** One element or vector at po (pb, the same column of bias; c's matches out's offset, cOff bytes away). */
  const term = (vector: boolean, withBias: boolean, withC: boolean, cOff: Local): void => {
    f.local_get(po);
    f.local_get(po);
    if (vector) { f.v128_load(); f.local_get(va); p.vmul(f); } else { p.load(f); f.local_get(sa); p.mul(f); }
    if (withBias) { f.local_get(pb); if (vector) { f.v128_load(); p.vadd(f); } else { p.load(f); p.add(f); } }
    if (withC) {
      f.local_get(po); f.local_get(cOff); f.i32_add();
      if (vector) { f.v128_load(); p.vadd(f); } else { p.load(f); p.add(f); }
    }
    if (vector) f.v128_store(); else p.store(f);
  };
  // c's distance from out in bytes (both are [rows, n] and contiguous: one cursor serves both)
  const cOff = f.local(i32);
  set(f, cOff, () => { f.local_get(c); f.local_get(out); f.i32_sub(); });
  /** Every row, for one combination of the optional terms. */
  const rowsLoop = (withBias: boolean, withC: boolean): void => {
    set(f, po, () => f.local_get(out));
    repeat(f, rows, () => {
      set(f, pb, () => f.local_get(bias));
      set(f, count, () => { f.local_get(n); f.i32_const(Math.log2(p.lanes)); f.i32_shr_u(); });
      repeat(f, count, () => {
        term(true, withBias, withC, cOff);
        inc(f, po, 16);
        inc(f, pb, 16);
      });
      set(f, count, () => { f.local_get(n); f.i32_const(p.lanes - 1); f.i32_and(); });
      repeat(f, count, () => {
        term(false, withBias, withC, cOff);
        inc(f, po, p.bytes);
        inc(f, pb, p.bytes);
      });
    });
  };
  byFlags(f, bias, c, rowsLoop);
  f.end();
}
