/**
 * float32 special functions on f32x4 vectors, written inline into the kernels that use them
 * (Node 20's V8 does not inline wasm calls). Each pushes its result and uses only its own
 * temporaries, so a kernel may evaluate it on any vector local.
 *
 * exp (Cephes expf, ≈ 1 ulp on the normal range):
 *   x ← clamp(x, −104, 89)                        beyond: 0 or ∞ after the scaling below
 *   n = nearest(x·log₂e),  r = x − n·C₁ − n·C₂      C₁ + C₂ = ln 2, C₁ exact in few bits
 *   p = 1 + r + r²·(½ + r·(1/6 + r·(…)))           degree-7 fit on |r| ≤ ln2/2
 *   exp x = p · 2^h · 2^(n−h),  h = ⌊n/2⌋          two scales keep each exponent normal, so
 *                                                 the result overflows or goes subnormal correctly
 * NaN propagates through every step (min/max keep NaN, trunc_sat of NaN gives n = 0).
 * The others are rearranged so that no step cancels (JavaScript tier: src/backends/cpu/math.ts):
 *   sigmoid x = 1/(1 + e^(−x))
 *   tanh x    = sign(x)·(1 − 2/(e^(2|x|) + 1))      (absolute error ≈ 1e-7 near 0)
 *   gelu x    = x·sigmoid(2u), u = √(2/π)(x + 0.044715x³)      (= ½x(1 + tanh u))
 *   gelu′ x   = s + 2x·s(1 − s)·√(2/π)(1 + 3·0.044715x²), s = sigmoid(2u)
 *   silu x    = x·sigmoid x
 */
import { type FunctionBuilder, type Local, v128 } from './emitter.ts';
import { F32 } from './precision.ts';

const LOG2E = Math.LOG2E;
const C1 = 0.693359375;
const C2 = -2.12194440e-4;
/** Cephes expf's polynomial for e^r − 1 − r = r²·P(r), highest degree first. */
const EXP_P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** Splat constant c as f32x4. */
function c(f: FunctionBuilder, v: number): void {
  F32.vconst(f, v);
}

export class VMath {
  private readonly t: Local[];

  constructor(private readonly f: FunctionBuilder) {
    this.t = Array.from({ length: 6 }, () => f.local(v128));
  }

  /** Pushes e^x. */
  exp(x: Local): void {
    const f = this.f, [y, n, r, p] = this.t as [Local, Local, Local, Local];
    f.local_get(x); c(f, 89); f.f32x4_min(); c(f, -104); f.f32x4_max(); f.local_set(y);
    f.local_get(y); c(f, LOG2E); f.f32x4_mul(); f.f32x4_nearest(); f.local_set(n);
    f.local_get(y); f.local_get(n); c(f, C1); f.f32x4_mul(); f.f32x4_sub();
    f.local_get(n); c(f, C2); f.f32x4_mul(); f.f32x4_sub(); f.local_set(r);
    // p = ((((P0·r + P1)·r + P2)·r + P3)·r + P4)·r + P5, then 1 + r + r²·p
    c(f, EXP_P[0]!);
    for (const k of EXP_P.slice(1)) { f.local_get(r); f.f32x4_mul(); c(f, k); f.f32x4_add(); }
    f.local_get(r); f.local_get(r); f.f32x4_mul(); f.f32x4_mul();
    f.local_get(r); f.f32x4_add(); c(f, 1); f.f32x4_add(); f.local_set(p);
    // scales: n as int32 (exact), h = n >> 1; 2^h and 2^(n−h) as exponent bits (k + 127) << 23
    f.local_get(n); f.i32x4_trunc_sat_f32x4_s(); f.local_set(n);
    f.local_get(n); f.i32_const(1); f.i32x4_shr_s(); f.local_set(y);
    f.local_get(p);
    f.local_get(y); bias(f); f.f32x4_mul();
    f.local_get(n); f.local_get(y); f.i32x4_sub(); bias(f); f.f32x4_mul();
  }

  /** Pushes 1/(1 + e^(−x)). */
  sigmoid(x: Local): void {
    const f = this.f, u = this.t[4]!;
    f.local_get(x); f.f32x4_neg(); f.local_set(u);
    c(f, 1); c(f, 1); this.exp(u); f.f32x4_add(); f.f32x4_div();
  }

  /** Pushes tanh x. */
  tanh(x: Local): void {
    const f = this.f, u = this.t[4]!;
    f.local_get(x); f.f32x4_abs(); c(f, 2); f.f32x4_mul(); f.local_set(u);
    c(f, 1); c(f, 2); this.exp(u); c(f, 1); f.f32x4_add(); f.f32x4_div(); f.f32x4_sub();
    // copy the sign of x onto the non-negative result
    f.local_get(x); c(f, -0); f.v128_and(); f.v128_or();
  }

  /** Pushes gelu x (tanh approximation). */
  gelu(x: Local): void {
    const f = this.f, s = this.t[5]!;
    this.sigmoid2u(x, s);
    f.local_get(x); f.local_get(s); f.f32x4_mul();
  }

  /** Pushes gelu′ x. */
  geluGrad(x: Local): void {
    const f = this.f, s = this.t[5]!;
    this.sigmoid2u(x, s);
    // s + 2x·s·(1 − s)·√(2/π)·(1 + 3c·x²)
    f.local_get(s);
    f.local_get(x); c(f, 2); f.f32x4_mul(); f.local_get(s); f.f32x4_mul();
    c(f, 1); f.local_get(s); f.f32x4_sub(); f.f32x4_mul();
    c(f, SQRT_2_OVER_PI); f.f32x4_mul();
    c(f, 1); f.local_get(x); f.local_get(x); f.f32x4_mul(); c(f, 3 * GELU_C); f.f32x4_mul(); f.f32x4_add(); f.f32x4_mul();
    f.f32x4_add();
  }

  /** out = sigmoid(2u), u = √(2/π)·(x + c·x³). */
  private sigmoid2u(x: Local, out: Local): void {
    const f = this.f, u = this.t[5]!;
    f.local_get(x); f.local_get(x); f.f32x4_mul(); f.local_get(x); f.f32x4_mul(); c(f, GELU_C); f.f32x4_mul();
    f.local_get(x); f.f32x4_add(); c(f, 2 * SQRT_2_OVER_PI); f.f32x4_mul(); f.local_set(u);
    this.sigmoid(u);
    f.local_set(out);
  }
}

/** int32 lanes k → the f32 lanes 2^k: (k + 127) << 23. */
function bias(f: FunctionBuilder): void {
  f.i32_const(127); f.i32x4_splat(); f.i32x4_add();
  f.i32_const(23); f.i32x4_shl();
}
