/**
 * adamw_<p>(param, grad, m, v, n, lr, b1, c1, b2, c2, decay, bc1, bc2, eps), in place, as the
 * JavaScript tier computes it (kernels/optim.ts), in float64 for both dtypes — a float32 tensor's
 * elements are widened exactly and each result rounded once, so the bits are the JavaScript tier's:
 *   m ← b1·m + c1·g,  v ← b2·v + (c2·g)·g,  p ← p·decay − (lr·(m/bc1)) / (√(v/bc2) + eps)
 * with c1 = 1 − β₁, c2 = 1 − β₂, decay = 1 − lr·λ, bc1 = 1 − β₁ᵗ, bc2 = 1 − β₂ᵗ. Two elements per
 * f64x2 step over ⌈n/2⌉ steps (the last may touch the block's padding, runtime/heap.ts).
 */
import { type Local, type ModuleBuilder, f64, i32, v128 } from '../asm/emitter.ts';
import { F32, type Precision } from '../asm/precision.ts';
import { inc, repeat, set } from '../asm/structured.ts';

export function emitOptim(mod: ModuleBuilder, p: Precision): void {
  const f = mod.func(`adamw_${p.name}`, [i32, i32, i32, i32, i32, f64, f64, f64, f64, f64, f64, f64, f64, f64], []);
  const [param, grad, m, v, n, ...h] = f.params as Local[];
  const [lr, b1, c1, b2, c2, decay, bc1, bc2, eps] = h.map((x) => {
    const s = f.local(v128);
    f.local_get(x); f.f64x2_splat(); f.local_set(s);
    return s;
  }) as [Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const count = f.local(i32), g = f.local(v128), mi = f.local(v128), vi = f.local(v128);
  const step = p === F32 ? 8 : 16;
  /** Two elements at ptr as f64x2; and back. */
  const load = (ptr: Local): void => {
    f.local_get(ptr);
    if (p === F32) { f.v128_load64_zero(); f.f64x2_promote_low_f32x4(); } else f.v128_load();
  };
  const store = (ptr: Local, x: Local): void => {
    f.local_get(ptr); f.local_get(x);
    if (p === F32) { f.f32x4_demote_f64x2_zero(); f.v128_store64_lane(0, 0); } else f.v128_store();
  };
  set(f, count, () => { f.local_get(n); f.i32_const(1); f.i32_add(); f.i32_const(1); f.i32_shr_u(); });
  repeat(f, count, () => {
    load(grad); f.local_set(g);
    // m = b1·m + c1·g
    f.local_get(b1); load(m); f.f64x2_mul(); f.local_get(c1); f.local_get(g); f.f64x2_mul(); f.f64x2_add(); f.local_set(mi);
    // v = b2·v + (c2·g)·g
    f.local_get(b2); load(v); f.f64x2_mul(); f.local_get(c2); f.local_get(g); f.f64x2_mul(); f.local_get(g); f.f64x2_mul(); f.f64x2_add(); f.local_set(vi);
    store(m, mi);
    store(v, vi);
    // p = p·decay − (lr·(m/bc1)) / (√(v/bc2) + eps)
    load(param); f.local_get(decay); f.f64x2_mul();
    f.local_get(lr); f.local_get(mi); f.local_get(bc1); f.f64x2_div(); f.f64x2_mul();
    f.local_get(vi); f.local_get(bc2); f.f64x2_div(); f.f64x2_sqrt(); f.local_get(eps); f.f64x2_add();
    f.f64x2_div(); f.f64x2_sub();
    f.local_set(g);
    store(param, g);
    for (const ptr of [param, grad, m, v]) inc(f, ptr, step);
  });
  f.end();
}
