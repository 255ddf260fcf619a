/**
 * Elementwise kernels. Flat ones run over whole v128 vectors of contiguous tensors: a tensor's
 * heap block is a multiple of 16 bytes (runtime/heap.ts), so the last vector may read and write
 * the block's padding, and every element is computed by the same lane code wherever it sits:
 *
 *   unary_<op>_<p>(x, y, n)             y = f(x)                      n elements
 *   unarygrad_<op>_<p>(s, g, dx, n)     dx = g·f′(·) from s = x or y, as UNARY_GRAD_NEEDS says
 *   binary_<op>_<p>(a, b, out, rows, len, aRow, aInner, bRow, bInner)
 *     out[r·len + i] = a[r·aRow + i·aInner] ∘ b[r·bRow + i·bInner]   (strides in elements)
 *     a broadcast operand has inner stride 0 (splat once per row); rows end in a scalar tail
 *     (exact IEEE operations: the same bits as the vector lanes).
 *   where_<p>(c, a, b, out, rows, len, cRow, cInner, aRow, aInner, bRow, bInner)
 *     out = c ≠ 0 ? a : b (NaN ≠ 0), the same row layout, element by element.
 *
 * float64 kernels are the exact operations only (no special functions: those stay in the
 * JavaScript tier), written in the JavaScript tier's order, so they give its bits.
 */
import { type FunctionBuilder, type Local, type ModuleBuilder, i32, v128 } from '../asm/emitter.ts';
import { F32, type Precision } from '../asm/precision.ts';
import { byFlags, inc, repeat, set } from '../asm/structured.ts';
import { VMath } from '../asm/vmath.ts';

/** Pushes the result vector from the input vector locals. */
type Lanes = (f: FunctionBuilder, vm: VMath, ins: Local[], p: Precision) => void;

const get = (f: FunctionBuilder, ...xs: Local[]): void => xs.forEach((x) => f.local_get(x));

/** relu-style select: (mask ? v : 0) for a pushed mask and vector local v. */
function maskOf(f: FunctionBuilder, v: Local): void {
  const m = f.local(v128);
  f.local_set(m);
  f.local_get(v); f.local_get(m); f.v128_and();
}

/** y = f(x); which ops exist per precision. */
export const UNARY: Record<string, { lanes: Lanes; f64: boolean }> = {
  neg: { lanes: (f, _, [x], p) => { get(f, x!); p.vneg(f); }, f64: true },
  abs: { lanes: (f, _, [x], p) => { get(f, x!); p.vabs(f); }, f64: true },
  sqrt: { lanes: (f, _, [x], p) => { get(f, x!); p.vsqrt(f); }, f64: true },
  relu: { lanes: (f, _, [x], p) => { get(f, x!); p.vconst(f, 0); p.vgt(f); maskOf(f, x!); }, f64: true },
  exp: { lanes: (_, vm, [x]) => vm.exp(x!), f64: false },
  tanh: { lanes: (_, vm, [x]) => vm.tanh(x!), f64: false },
  sigmoid: { lanes: (_, vm, [x]) => vm.sigmoid(x!), f64: false },
  gelu: { lanes: (_, vm, [x]) => vm.gelu(x!), f64: false },
  silu: { lanes: (f, vm, [x]) => { vm.sigmoid(x!); get(f, x!); f.f32x4_mul(); }, f64: false },
};

/** dx from (s, g); s is x or y as UNARY_GRAD_NEEDS says, 'none' ops ignore it. */
export const UNARY_GRAD: Record<string, { lanes: Lanes; f64: boolean }> = {
  neg: { lanes: (f, _, [, g], p) => { get(f, g!); p.vneg(f); }, f64: true },
  exp: { lanes: (f, _, [y, g], p) => { get(f, g!, y!); p.vmul(f); }, f64: true },
  log: { lanes: (f, _, [x, g], p) => { get(f, g!, x!); p.vdiv(f); }, f64: true },
  // g/(2y)
  sqrt: { lanes: (f, _, [y, g], p) => { get(f, g!); p.vconst(f, 2); get(f, y!); p.vmul(f); p.vdiv(f); }, f64: true },
  // float64: g·(1 − y·y), the JavaScript tier's order (its bits); float32: g·((1 − y)·(1 + y)), where 1 − y is
  // exact for |y| ≥ ½ (no cancellation after rounding y·y): within an ulp or two of the float64 result near |y| = 1
  tanh: {
    lanes: (f, _, [y, g], p) => {
      get(f, g!);
      if (p === F32) { p.vconst(f, 1); get(f, y!); p.vsub(f); p.vconst(f, 1); get(f, y!); p.vadd(f); p.vmul(f); }
      else { p.vconst(f, 1); get(f, y!, y!); p.vmul(f); p.vsub(f); }
      p.vmul(f);
    },
    f64: true,
  },
  // (g·y)·(1 − y)
  sigmoid: { lanes: (f, _, [y, g], p) => { get(f, g!, y!); p.vmul(f); p.vconst(f, 1); get(f, y!); p.vsub(f); p.vmul(f); }, f64: true },
  relu: { lanes: (f, _, [y, g], p) => { get(f, y!); p.vconst(f, 0); p.vgt(f); maskOf(f, g!); }, f64: true },
  gelu: { lanes: (f, vm, [x, g]) => { get(f, g!); vm.geluGrad(x!); f.f32x4_mul(); }, f64: false },
  // (g·s)·(1 + x·(1 − s)), s = sigmoid x
  silu: {
    lanes: (f, vm, [x, g]) => {
      const s = f.local(v128);
      vm.sigmoid(x!); f.local_set(s);
      get(f, g!, s); f.f32x4_mul();
      F32.vconst(f, 1); get(f, x!); F32.vconst(f, 1); get(f, s); f.f32x4_sub(); f.f32x4_mul(); f.f32x4_add();
      f.f32x4_mul();
    },
    f64: false,
  },
};

export type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'eq' | 'gt';

/** Vector and scalar forms of each binary op (eq and gt give 1 or 0). */
const BINARY: Record<BinaryName, { vector: (f: FunctionBuilder, p: Precision) => void; scalar: (f: FunctionBuilder, p: Precision) => void }> = {
  add: { vector: (f, p) => p.vadd(f), scalar: (f, p) => p.add(f) },
  sub: { vector: (f, p) => p.vsub(f), scalar: (f, p) => p.sub(f) },
  mul: { vector: (f, p) => p.vmul(f), scalar: (f, p) => p.mul(f) },
  div: { vector: (f, p) => p.vdiv(f), scalar: (f, p) => p.div(f) },
  eq: { vector: (f, p) => { p.veq(f); p.vconst(f, 1); f.v128_and(); }, scalar: (f, p) => compare(f, p, 'eq') },
  gt: { vector: (f, p) => { p.vgt(f); p.vconst(f, 1); f.v128_and(); }, scalar: (f, p) => compare(f, p, 'gt') },
};

/** a b → (a op b ? 1 : 0) as a scalar of p. */
function compare(f: FunctionBuilder, p: Precision, op: 'eq' | 'gt'): void {
  const t = f.local(p.scalar), u = f.local(p.scalar);
  f.local_set(u); f.local_set(t);
  p.const(f, 1); p.const(f, 0);
  f.local_get(t); f.local_get(u);
  if (op === 'eq') p.scalarEq(f); else p.scalarGt(f);
  f.select();
}

/** name(in_0, …, in_{k−1}, out, n): out = lanes(ins) over ⌈n/lanes⌉ vectors. */
function emitMap(mod: ModuleBuilder, name: string, p: Precision, arity: number, lanes: Lanes): void {
  const f = mod.func(name, new Array<typeof i32>(arity + 2).fill(i32), []);
  const ptrs = f.params.slice(0, arity), out = f.params[arity]!, n = f.params[arity + 1]!;
  const ins = ptrs.map(() => f.local(v128));
  const vm = new VMath(f);
  const count = f.local(i32);
  set(f, count, () => { f.local_get(n); f.i32_const(p.lanes - 1); f.i32_add(); f.i32_const(Math.log2(p.lanes)); f.i32_shr_u(); });
  repeat(f, count, () => {
    ptrs.forEach((ptr, i) => { f.local_get(ptr); f.v128_load(); f.local_set(ins[i]!); });
    f.local_get(out);
    lanes(f, vm, ins, p);
    f.v128_store();
    for (const ptr of [...ptrs, out]) inc(f, ptr, 16);
  });
  f.end();
}

/**
 * binary_<op>_<p>: per row, one of four vector loops by which operands are broadcast along the
 * row (inner stride 0: splatted once), then the scalar tail of len mod lanes elements.
 */
function emitBinary(mod: ModuleBuilder, op: BinaryName, p: Precision): void {
  const f = mod.func(`binary_${op}_${p.name}`, new Array<typeof i32>(9).fill(i32), []);
  const [a, b, out, rows, len, aRow, aInner, bRow, bInner] = f.params as [Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const pa = f.local(i32), pb = f.local(i32), po = f.local(i32), count = f.local(i32), av = f.local(v128), bv = f.local(v128);
  const { vector, scalar } = BINARY[op];
  const bytes = (x: Local): void => { f.local_get(x); f.i32_const(p.log2Bytes); f.i32_shl(); f.local_set(x); };
  for (const x of [aRow, aInner, bRow, bInner]) bytes(x);
  /** The vector loop for one broadcast pattern: a, b loaded per vector (true) or splatted per row (false). */
  const vectors = (aVec: boolean, bVec: boolean): void => {
    if (!aVec) { f.local_get(pa); p.loadSplat(f); f.local_set(av); }
    if (!bVec) { f.local_get(pb); p.loadSplat(f); f.local_set(bv); }
    repeat(f, count, () => {
      f.local_get(po);
      if (aVec) { f.local_get(pa); f.v128_load(); } else f.local_get(av);
      if (bVec) { f.local_get(pb); f.v128_load(); } else f.local_get(bv);
      vector(f, p);
      f.v128_store();
      inc(f, po, 16);
      if (aVec) inc(f, pa, 16);
      if (bVec) inc(f, pb, 16);
    });
  };
  repeat(f, rows, () => {
    set(f, pa, () => f.local_get(a));
    set(f, pb, () => f.local_get(b));
    set(f, po, () => f.local_get(out));
    set(f, count, () => { f.local_get(len); f.i32_const(Math.log2(p.lanes)); f.i32_shr_u(); });
    byFlags(f, aInner, bInner, vectors);
    // tail: out = a ∘ b element by element
    set(f, count, () => { f.local_get(len); f.i32_const(p.lanes - 1); f.i32_and(); });
    repeat(f, count, () => {
      f.local_get(po);
      f.local_get(pa); p.load(f);
      f.local_get(pb); p.load(f);
      scalar(f, p);
      p.store(f);
      inc(f, po, p.bytes);
      inc(f, pa, aInner);
      inc(f, pb, bInner);
    });
    inc(f, a, aRow);
    inc(f, b, bRow);
    set(f, out, () => { f.local_get(out); f.local_get(len); f.i32_const(p.log2Bytes); f.i32_shl(); f.i32_add(); });
  });
  f.end();
}

function emitWhere(mod: ModuleBuilder, p: Precision): void {
  const f = mod.func(`where_${p.name}`, new Array<typeof i32>(12).fill(i32), []);
  const [c, a, b, out, rows, len, cRow, cInner, aRow, aInner, bRow, bInner] = f.params as Local[] as [
    Local, Local, Local, Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const pc = f.local(i32), pa = f.local(i32), pb = f.local(i32), po = f.local(i32), count = f.local(i32);
  for (const x of [cRow, cInner, aRow, aInner, bRow, bInner]) { f.local_get(x); f.i32_const(p.log2Bytes); f.i32_shl(); f.local_set(x); }
  repeat(f, rows, () => {
    for (const [cursor, start] of [[pc, c], [pa, a], [pb, b], [po, out]] as const) set(f, cursor, () => f.local_get(start));
    set(f, count, () => f.local_get(len));
    repeat(f, count, () => {
      f.local_get(po);
      f.local_get(pa); p.load(f);
      f.local_get(pb); p.load(f);
      f.local_get(pc); p.load(f); p.const(f, 0); p.scalarNe(f);
      f.select();
      p.store(f);
      inc(f, po, p.bytes);
      inc(f, pc, cInner);
      inc(f, pa, aInner);
      inc(f, pb, bInner);
    });
    inc(f, c, cRow);
    inc(f, a, aRow);
    inc(f, b, bRow);
    set(f, out, () => { f.local_get(out); f.local_get(len); f.i32_const(p.log2Bytes); f.i32_shl(); f.i32_add(); });
  });
  f.end();
}

/** Adds every elementwise kernel of precision p. */
export function emitElementwise(mod: ModuleBuilder, p: Precision): void {
  emitWhere(mod, p);
  for (const [op, def] of Object.entries(UNARY)) if (p === F32 || def.f64) emitMap(mod, `unary_${op}_${p.name}`, p, 1, def.lanes);
  for (const [op, def] of Object.entries(UNARY_GRAD)) if (p === F32 || def.f64) emitMap(mod, `unarygrad_${op}_${p.name}`, p, 2, def.lanes);
  for (const op of Object.keys(BINARY) as BinaryName[]) emitBinary(mod, op, p);
}
