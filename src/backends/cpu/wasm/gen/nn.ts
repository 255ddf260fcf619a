/**
 * Row kernels of the nn group, float32, one row at a time (threads split the rows): every sum
 * accumulates in float64 lanes (as the JavaScript tier does), exp is the vector one of
 * asm/vmath.ts, and ln of a row's sum is the host's Math.log (an imported f64 function).
 *
 *   softmax_f32(x, y, rows, cols, log)
 *     m = max x,  s = Σ e^(x − m);  y = e^(x − m)/s,  or (log) y = (x − m) − ln s
 *   softmaxgrad_f32(y, g, dx, rows, cols, log)
 *     dx = y·(g − Σ g·y),  or (log) dx = g − e^y·Σ g
 *   layernorm_f32(x, gamma, beta, y, mean, rstd, rows, cols, eps)      gamma = beta = 0: none
 *     μ = Σx/cols, rstd = 1/√(Σ(x − μ)²/cols + eps), y = (x − μ)·rstd·γ + β
 *   layernormgrad_f32(x, gamma, mean, rstd, g, dx, rows, cols)          gamma = 0: none
 *     x̂ = (x − μ)·rstd, ĝ = g·γ;  dx = rstd·(ĝ − Σĝ/cols − x̂·Σĝx̂/cols)
 *   layernormcols_f32(x, mean, rstd, g, acc, half, gradGamma, gradBeta, rows, cols, rowStride)
 *     dγ = Σ_rows g·x̂, dβ = Σ_rows g over a column range (threads split the columns, in
 *     multiples of 4), accumulated in float64 at acc and acc + half bytes
 *   crossentropy_f32(z, t, loss, lse, valid, rows, classes, ignore)
 *     lse = m + ln Σ e^(z − m); ignored row: loss = valid = 0; else valid = 1 and
 *     loss = (m − z[t]) + ln s, NaN for t outside [0, classes)
 *   crossentropygrad_f32(z, lse, t, scale, dx, rows, classes, ignore)
 *     e = e^(z − lse), dx = (e/Σe − [c = t])·scale[0]; an ignored row is 0
 * Every kernel writes every element of its outputs (heap blocks are not zeroed).
 */
import { type Callee, type FunctionBuilder, type Local, type ModuleBuilder, f32, f64, i32, v128 } from '../asm/emitter.ts';
import { F32 as P } from '../asm/precision.ts';
import { inc, repeat, set } from '../asm/structured.ts';
import { addToSum, clearSum, f64Sum, maxOfLanes, rowVectors, totalOf, type F64Sum, type VectorIO } from '../asm/vectors.ts';
import { VMath } from '../asm/vmath.ts';

const ROW_BYTES = (f: FunctionBuilder, cols: Local, x: Local): void => {
  // x = cols·4 (bytes per row)
  f.local_get(cols); f.i32_const(2); f.i32_shl(); f.local_set(x);
};

/** Pushes the row's max (NaN if any is NaN) of the row at ptr. */
function rowMax(f: FunctionBuilder, cols: Local, start: Local): void {
  const c = f.local(i32), mv = f.local(v128);
  set(f, c, () => f.local_get(start));
  P.vconst(f, -Infinity); f.local_set(mv);
  rowVectors(f, P, cols, [c], (io) => { f.local_get(mv); io.load(c, -Infinity); f.f32x4_max(); f.local_set(mv); });
  maxOfLanes(f, P, mv);
}

/** For each row: cursors reset to their row's start, body, then the starts advance by a row. */
function forRows(f: FunctionBuilder, rows: Local, rowBytes: Local, starts: Local[], body: () => void): void {
  repeat(f, rows, () => {
    body();
    for (const s of starts) inc(f, s, rowBytes);
  });
}

/** e = e^(x_row − shift) into out_row (fill −∞: a partial group adds e^(−∞) = 0), s += e. */
function expPass(f: FunctionBuilder, vm: VMath, cols: Local, x: Local, out: Local, shift: Local, sum: F64Sum): void {
  const px = f.local(i32), po = f.local(i32), v = f.local(v128), e = f.local(v128);
  set(f, px, () => f.local_get(x));
  set(f, po, () => f.local_get(out));
  clearSum(f, sum);
  rowVectors(f, P, cols, [px, po], (io) => {
    io.load(px, -Infinity); f.local_get(shift); f.f32x4_splat(); f.f32x4_sub(); f.local_set(v);
    vm.exp(v); f.local_set(e);
    io.store(po, e);
    addToSum(f, P, sum, e);
  });
}

function emitSoftmax(mod: ModuleBuilder, log: Callee): void {
  const f = mod.func('softmax_f32', [i32, i32, i32, i32, i32], []);
  const [x, y, rows, cols, isLog] = f.params as [Local, Local, Local, Local, Local];
  const vm = new VMath(f), sum = f64Sum(f), rowBytes = f.local(i32), m = f.local(f32), s = f.local(f32), ls = f.local(f32);
  const px = f.local(i32), py = f.local(i32), v = f.local(v128);
  ROW_BYTES(f, cols, rowBytes);
  forRows(f, rows, rowBytes, [x, y], () => {
    rowMax(f, cols, x); f.local_set(m);
    expPass(f, vm, cols, x, y, m, sum);
    set(f, px, () => f.local_get(x));
    set(f, py, () => f.local_get(y));
    f.local_get(isLog);
    f.if_();
    // y = (x − m) − ln s
    totalOf(f, sum); f.call(log); f.f32_demote_f64(); f.local_set(ls);
    rowVectors(f, P, cols, [px, py], (io) => {
      io.load(px); f.local_get(m); f.f32x4_splat(); f.f32x4_sub(); f.local_get(ls); f.f32x4_splat(); f.f32x4_sub(); f.local_set(v);
      io.store(py, v);
    });
    f.else_();
    // y = e/s
    totalOf(f, sum); f.f32_demote_f64(); f.local_set(s);
    rowVectors(f, P, cols, [py], (io) => {
      io.load(py); f.local_get(s); f.f32x4_splat(); f.f32x4_div(); f.local_set(v);
      io.store(py, v);
    });
    f.end();
  });
  f.end();
}

function emitSoftmaxGrad(mod: ModuleBuilder): void {
  const f = mod.func('softmaxgrad_f32', [i32, i32, i32, i32, i32, i32], []);
  const [y, g, dx, rows, cols, isLog] = f.params as [Local, Local, Local, Local, Local, Local];
  const vm = new VMath(f), sum = f64Sum(f), rowBytes = f.local(i32), dot = f.local(v128);
  const py = f.local(i32), pg = f.local(i32), pd = f.local(i32), yv = f.local(v128), v = f.local(v128);
  ROW_BYTES(f, cols, rowBytes);
  const cursors = (): void => {
    set(f, py, () => f.local_get(y));
    set(f, pg, () => f.local_get(g));
    set(f, pd, () => f.local_get(dx));
  };
  forRows(f, rows, rowBytes, [y, g, dx], () => {
    cursors();
    clearSum(f, sum);
    // Σ g·y (softmax) or Σ g (log); partial groups load 0
    rowVectors(f, P, cols, [py, pg], (io) => {
      io.load(pg); f.local_set(v);
      f.local_get(isLog); f.i32_eqz(); f.if_(); f.local_get(v); io.load(py); f.f32x4_mul(); f.local_set(v); f.end();
      addToSum(f, P, sum, v);
    });
    totalOf(f, sum); f.f32_demote_f64(); f.f32x4_splat(); f.local_set(dot);
    cursors();
    rowVectors(f, P, cols, [py, pg, pd], (io) => {
      io.load(py); f.local_set(yv);
      f.local_get(isLog);
      f.if_();
      // g − e^y·dot
      io.load(pg); vm.exp(yv); f.local_get(dot); f.f32x4_mul(); f.f32x4_sub(); f.local_set(v);
      f.else_();
      // y·(g − dot)
      f.local_get(yv); io.load(pg); f.local_get(dot); f.f32x4_sub(); f.f32x4_mul(); f.local_set(v);
      f.end();
      io.store(pd, v);
    });
  });
  f.end();
}

function emitLayerNorm(mod: ModuleBuilder): void {
  const f = mod.func('layernorm_f32', [i32, i32, i32, i32, i32, i32, i32, i32, f64], []);
  const [x, gamma, beta, y, mean, rstd, rows, cols, eps] = f.params as [Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const sum = f64Sum(f), rowBytes = f.local(i32), mu = f.local(v128), rs = f.local(v128), d = f.local(v128), mu64 = f.local(f64);
  const px = f.local(i32), py = f.local(i32), pg = f.local(i32), pb = f.local(i32), v = f.local(v128);
  ROW_BYTES(f, cols, rowBytes);
  forRows(f, rows, rowBytes, [x, y], () => {
    // μ = Σx / cols
    clearSum(f, sum);
    set(f, px, () => f.local_get(x));
    rowVectors(f, P, cols, [px], (io) => { io.load(px); f.local_set(v); addToSum(f, P, sum, v); });
    totalOf(f, sum); f.local_get(cols); f.f64_convert_i32_u(); f.f64_div(); f.local_set(mu64);
    f.local_get(mean); f.local_get(mu64); f.f32_demote_f64(); f.f32_store();
    f.local_get(mu64); f.f32_demote_f64(); f.f32x4_splat(); f.local_set(mu);
    // rstd = 1/√(Σ(x − μ)²/cols + eps); d in float32 (a partial group loads μ: d = 0), d² summed in float64
    clearSum(f, sum);
    set(f, px, () => f.local_get(x));
    rowVectors(f, P, cols, [px], (io) => {
      io.load(px, mu); f.local_get(mu); f.f32x4_sub(); f.local_set(d);
      f.local_get(sum.a); f.local_get(d); f.f64x2_promote_low_f32x4(); f.local_get(d); f.f64x2_promote_low_f32x4(); f.f64x2_mul(); f.f64x2_add(); f.local_set(sum.a);
      f.local_get(d); f.local_get(d); f.i8x16_shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]); f.local_set(d);
      f.local_get(sum.b); f.local_get(d); f.f64x2_promote_low_f32x4(); f.local_get(d); f.f64x2_promote_low_f32x4(); f.f64x2_mul(); f.f64x2_add(); f.local_set(sum.b);
    });
    f.local_get(rstd);
    f.f64_const(1); totalOf(f, sum); f.local_get(cols); f.f64_convert_i32_u(); f.f64_div(); f.local_get(eps); f.f64_add(); f.f64_sqrt(); f.f64_div();
    f.f32_demote_f64(); f.f32_store();
    f.local_get(rstd); f.v128_load32_splat(); f.local_set(rs);
    // y = (x − μ)·rstd·γ + β
    set(f, px, () => f.local_get(x));
    set(f, py, () => f.local_get(y));
    set(f, pg, () => f.local_get(gamma));
    set(f, pb, () => f.local_get(beta));
    f.local_get(gamma);
    f.if_();
    rowVectors(f, P, cols, [px, py, pg, pb], (io) => {
      io.load(px); f.local_get(mu); f.f32x4_sub(); f.local_get(rs); f.f32x4_mul(); io.load(pg); f.f32x4_mul(); io.load(pb); f.f32x4_add(); f.local_set(v);
      io.store(py, v);
    });
    f.else_();
    rowVectors(f, P, cols, [px, py], (io) => {
      io.load(px); f.local_get(mu); f.f32x4_sub(); f.local_get(rs); f.f32x4_mul(); f.local_set(v);
      io.store(py, v);
    });
    f.end();
    inc(f, mean, 4);
    inc(f, rstd, 4);
  });
  f.end();
}

function emitLayerNormGrad(mod: ModuleBuilder): void {
  const f = mod.func('layernormgrad_f32', [i32, i32, i32, i32, i32, i32, i32, i32], []);
  const [x, gamma, mean, rstd, g, dx, rows, cols] = f.params as [Local, Local, Local, Local, Local, Local, Local, Local];
  const sumG = f64Sum(f), sumGX = f64Sum(f), rowBytes = f.local(i32), mu = f.local(v128), rs = f.local(v128);
  const px = f.local(i32), pg = f.local(i32), pGamma = f.local(i32), pd = f.local(i32);
  const xhat = f.local(v128), gh = f.local(v128), v = f.local(v128), meanG = f.local(v128), meanGX = f.local(v128);
  ROW_BYTES(f, cols, rowBytes);
  const cursors = (): void => {
    set(f, px, () => f.local_get(x));
    set(f, pg, () => f.local_get(g));
    set(f, pGamma, () => f.local_get(gamma));
    set(f, pd, () => f.local_get(dx));
  };
  /** x̂ and ĝ of a group (a partial group loads x = μ, g = γ = 0: both 0). */
  const hats = (io: VectorIO): void => {
    io.load(px, mu); f.local_get(mu); f.f32x4_sub(); f.local_get(rs); f.f32x4_mul(); f.local_set(xhat);
    io.load(pg); f.local_set(gh);
    f.local_get(gamma); f.if_(); f.local_get(gh); io.load(pGamma); f.f32x4_mul(); f.local_set(gh); f.end();
  };
  forRows(f, rows, rowBytes, [x, g, dx], () => {
    f.local_get(mean); f.v128_load32_splat(); f.local_set(mu);
    f.local_get(rstd); f.v128_load32_splat(); f.local_set(rs);
    cursors();
    clearSum(f, sumG);
    clearSum(f, sumGX);
    rowVectors(f, P, cols, [px, pg, pGamma], (io) => {
      hats(io);
      addToSum(f, P, sumG, gh);
      f.local_get(gh); f.local_get(xhat); f.f32x4_mul(); f.local_set(v);
      addToSum(f, P, sumGX, v);
    });
    totalOf(f, sumG); f.local_get(cols); f.f64_convert_i32_u(); f.f64_div(); f.f32_demote_f64(); f.f32x4_splat(); f.local_set(meanG);
    totalOf(f, sumGX); f.local_get(cols); f.f64_convert_i32_u(); f.f64_div(); f.f32_demote_f64(); f.f32x4_splat(); f.local_set(meanGX);
    cursors();
    rowVectors(f, P, cols, [px, pg, pGamma, pd], (io) => {
      hats(io);
      f.local_get(rs); f.local_get(gh); f.local_get(meanG); f.f32x4_sub(); f.local_get(xhat); f.local_get(meanGX); f.f32x4_mul(); f.f32x4_sub(); f.f32x4_mul(); f.local_set(v);
      io.store(pd, v);
    });
    inc(f, mean, 4);
    inc(f, rstd, 4);
  });
  f.end();
}

/**
 * dγ and dβ over columns [0, cols) of a column range (the caller offsets x, g, acc and the outputs
 * to the range's first column and passes its width; rowStride is the full row's columns):
 * acc[c] and acc[c + half/8] accumulate Σ g·x̂ and Σ g row by row in float64. The range's columns
 * are cleared and written rounded up to a multiple of 4 (the last range's spill is padding).
 */
function emitLayerNormCols(mod: ModuleBuilder): void {
  const f = mod.func('layernormcols_f32', new Array<typeof i32>(11).fill(i32), []);
  const [x, mean, rstd, g, acc, half, gradGamma, gradBeta, rows, cols, rowStride] = f.params as Local[] as [
    Local, Local, Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const px = f.local(i32), pg = f.local(i32), pa = f.local(i32), pb = f.local(i32), rowBytes = f.local(i32);
  const mu = f.local(v128), rs = f.local(v128), gv = f.local(v128), v = f.local(v128), j = f.local(i32);
  ROW_BYTES(f, rowStride, rowBytes);
  /** acc (f64, two vectors per f32 group) at ptr += the f32x4 local v. */
  const accumulate = (ptr: Local, value: Local): void => {
    f.local_get(ptr); f.local_get(ptr); f.v128_load(); f.local_get(value); f.f64x2_promote_low_f32x4(); f.f64x2_add(); f.v128_store();
    f.local_get(ptr); f.local_get(ptr); f.v128_load(16); f.local_get(value); f.local_get(value);
    f.i8x16_shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]); f.f64x2_promote_low_f32x4(); f.f64x2_add(); f.v128_store(16);
  };
  // clear both halves: ⌈cols/4⌉ groups of 4 doubles (2 vectors) each
  set(f, pa, () => f.local_get(acc));
  set(f, j, () => { f.local_get(cols); f.i32_const(3); f.i32_add(); f.i32_const(2); f.i32_shr_u(); f.i32_const(1); f.i32_shl(); });
  repeat(f, j, () => {
    f.local_get(pa); f.v128_const_zero(); f.v128_store();
    f.local_get(pa); f.local_get(half); f.i32_add(); f.v128_const_zero(); f.v128_store();
    inc(f, pa, 16);
  });
  repeat(f, rows, () => {
    f.local_get(mean); f.v128_load32_splat(); f.local_set(mu);
    f.local_get(rstd); f.v128_load32_splat(); f.local_set(rs);
    set(f, px, () => f.local_get(x));
    set(f, pg, () => f.local_get(g));
    set(f, pa, () => f.local_get(acc));
    set(f, pb, () => { f.local_get(acc); f.local_get(half); f.i32_add(); });
    rowVectors(f, P, cols, [px, pg], (io) => {
      io.load(pg); f.local_set(gv);
      f.local_get(gv); io.load(px, mu); f.local_get(mu); f.f32x4_sub(); f.local_get(rs); f.f32x4_mul(); f.f32x4_mul(); f.local_set(v);
      accumulate(pa, v);
      accumulate(pb, gv);
      inc(f, pa, 32);
      inc(f, pb, 32);
    });
    inc(f, x, rowBytes);
    inc(f, g, rowBytes);
    inc(f, mean, 4);
    inc(f, rstd, 4);
  });
  // round to float32
  set(f, pa, () => f.local_get(acc));
  set(f, pb, () => { f.local_get(acc); f.local_get(half); f.i32_add(); });
  set(f, j, () => f.local_get(cols));
  repeat(f, j, () => {
    f.local_get(gradGamma); f.local_get(pa); f.f64_load(); f.f32_demote_f64(); f.f32_store();
    f.local_get(gradBeta); f.local_get(pb); f.f64_load(); f.f32_demote_f64(); f.f32_store();
    for (const p of [pa, pb]) inc(f, p, 8);
    for (const p of [gradGamma, gradBeta]) inc(f, p, 4);
  });
  f.end();
}

function emitCrossEntropy(mod: ModuleBuilder, log: Callee): void {
  const f = mod.func('crossentropy_f32', [i32, i32, i32, i32, i32, i32, i32, i32], []);
  const [z, targets, loss, lse, valid, rows, classes, ignore] = f.params as [Local, Local, Local, Local, Local, Local, Local, Local];
  const vm = new VMath(f), sum = f64Sum(f), rowBytes = f.local(i32), m = f.local(f32), ls = f.local(f64), t = f.local(i32);
  const px = f.local(i32), v = f.local(v128), e = f.local(v128);
  ROW_BYTES(f, classes, rowBytes);
  forRows(f, rows, rowBytes, [z], () => {
    rowMax(f, classes, z); f.local_set(m);
    clearSum(f, sum);
    set(f, px, () => f.local_get(z));
    rowVectors(f, P, classes, [px], (io) => {
      io.load(px, -Infinity); f.local_get(m); f.f32x4_splat(); f.f32x4_sub(); f.local_set(v);
      vm.exp(v); f.local_set(e);
      addToSum(f, P, sum, e);
    });
    totalOf(f, sum); f.call(log); f.local_set(ls);
    // lse = m + ln s
    f.local_get(lse); f.local_get(m); f.f64_promote_f32(); f.local_get(ls); f.f64_add(); f.f32_demote_f64(); f.f32_store();
    set(f, t, () => { f.local_get(targets); f.i32_load(); });
    f.local_get(t); f.local_get(ignore); f.i32_eq();
    f.if_();
    f.local_get(loss); f.f32_const(0); f.f32_store();
    f.local_get(valid); f.f32_const(0); f.f32_store();
    f.else_();
    f.local_get(valid); f.f32_const(1); f.f32_store();
    // loss = t in [0, classes) ? (m − z[t]) + ln s : NaN
    f.local_get(loss);
    f.local_get(t); f.local_get(classes); f.i32_lt_u();
    f.if_();
    f.local_get(m); f.f64_promote_f32(); f.local_get(z); f.local_get(t); f.i32_const(2); f.i32_shl(); f.i32_add(); f.f32_load(); f.f64_promote_f32(); f.f64_sub();
    f.local_get(ls); f.f64_add(); f.f32_demote_f64(); f.local_set(m);
    f.else_();
    f.f32_const(NaN); f.local_set(m);
    f.end();
    f.local_get(m); f.f32_store();
    f.end();
    for (const p of [targets, loss, lse, valid]) inc(f, p, 4);
  });
  f.end();
}

function emitCrossEntropyGrad(mod: ModuleBuilder): void {
  const f = mod.func('crossentropygrad_f32', [i32, i32, i32, i32, i32, i32, i32, i32], []);
  const [z, lse, targets, scale, dx, rows, classes, ignore] = f.params as [Local, Local, Local, Local, Local, Local, Local, Local];
  const vm = new VMath(f), sum = f64Sum(f), rowBytes = f.local(i32), l = f.local(f32), s = f.local(v128), inv = f.local(v128);
  const pd = f.local(i32), v = f.local(v128), iota = f.local(v128), tv = f.local(v128);
  ROW_BYTES(f, classes, rowBytes);
  f.local_get(scale); f.v128_load32_splat(); f.local_set(s);
  forRows(f, rows, rowBytes, [z, dx], () => {
    set(f, pd, () => f.local_get(dx));
    f.local_get(targets); f.i32_load(); f.local_get(ignore); f.i32_eq();
    f.if_();
    rowVectors(f, P, classes, [pd], (io) => { f.v128_const_zero(); f.local_set(v); io.store(pd, v); });
    f.else_();
    // e = e^(z − lse) into dx, Σe
    f.local_get(lse); f.f32_load(); f.local_set(l);
    expPass(f, vm, classes, z, dx, l, sum);
    totalOf(f, sum); f.f32_demote_f64(); f.f32x4_splat(); f.local_set(inv);
    // dx = (e/Σe − [c = t])·scale: lane c of the group against t, c = iota
    f.local_get(targets); f.v128_load32_splat(); f.local_set(tv);
    f.v128_const(new Uint8Array(new Int32Array([0, 1, 2, 3]).buffer)); f.local_set(iota);
    set(f, pd, () => f.local_get(dx));
    rowVectors(f, P, classes, [pd], (io) => {
      io.load(pd); f.local_get(inv); f.f32x4_div();
      f.local_get(iota); f.local_get(tv); f.i32x4_eq(); P.vconst(f, 1); f.v128_and(); f.f32x4_sub();
      f.local_get(s); f.f32x4_mul(); f.local_set(v);
      io.store(pd, v);
      f.local_get(iota); f.i32_const(4); f.i32x4_splat(); f.i32x4_add(); f.local_set(iota);
    });
    f.end();
    inc(f, targets, 4);
    inc(f, lse, 4);
  });
  f.end();
}

/** Adds the float32 nn kernels; `log` is the imported Math.log (f64 → f64). */
export function emitNn(mod: ModuleBuilder, log: Callee): void {
  emitSoftmax(mod, log);
  emitSoftmaxGrad(mod);
  emitLayerNorm(mod);
  emitLayerNormGrad(mod);
  emitLayerNormCols(mod);
  emitCrossEntropy(mod, log);
  emitCrossEntropyGrad(mod);
}
