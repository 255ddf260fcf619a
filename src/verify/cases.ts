/**
 * Random LoRA problems for the claims. A case is a handful of integers (sizes, a seed, σ), and
 * the matrices are drawn from the engine's Philox stream of that seed, so fast-check shrinks
 * sizes and seeds rather than thousands of floats, and a printed counterexample is replayable.
 */
import fc from 'fast-check';
import { linear, lora, loraFA, loraFB } from '../ops.ts';
import { reshape } from '../autograd/ops/shape.ts';
import { typedArrayFor } from '../dtype.ts';
import { tensor } from '../factories.ts';
import { initFactor, randomStream, type RandomStream } from '../lora/init.ts';
import { fillNormal } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import type { FloatDType } from './claim.ts';
import { combine, fromTensor, mat, matmul, norm, scale, type Mat } from './dense.ts';
import { perturb } from './fault.ts';

export type RandomInit = 'gaussian' | 'uniform' | 'orthogonal';
export const RANDOM_INITS: readonly RandomInit[] = ['gaussian', 'uniform', 'orthogonal'];

export interface LoraCase {
  N: number;
  d: number;
  o: number;
  r: number;
  sigma: number;
  seed: number;
  init: RandomInit;
  dtype: FloatDType;
}

/**
 * σ of either sign, |σ| log-uniform in [2⁻³⁰, 16]: from tiny (≈ 1e-9, where σ·(XA)·B vanishes
 * against X·W in float32 and the corrected gradient is ≈ 1e9× the plain one) to large; every
 * statement of docs/math.md holds for σ ≠ 0.
 */
export const scaleArb: fc.Arbitrary<number> = fc
  .tuple(fc.boolean(), fc.double({ min: -30, max: 4, noNaN: true }))
  .map(([negative, log2]) => (negative ? -1 : 1) * 2 ** log2);

/** d, o in 1..48, r in 1..min(d, o), N in 1..32, σ of either sign with |σ| in [2⁻³⁰, 16], A drawn with `init`. */
export function loraCase(dtype: FloatDType, init?: RandomInit): fc.Arbitrary<LoraCase> {
  return fc
    .record({
      N: fc.integer({ min: 1, max: 32 }),
      d: fc.integer({ min: 1, max: 48 }),
      o: fc.integer({ min: 1, max: 48 }),
      sigma: scaleArb,
      seed: fc.integer({ min: 0, max: 0xffffffff }),
      init: init ? fc.constant(init) : fc.constantFrom(...RANDOM_INITS),
    })
    .chain((c) => fc.integer({ min: 1, max: Math.min(c.d, c.o) }).map((r) => ({ ...c, r, dtype })));
}

/** Values N(0, std²) of a rows×cols matrix from the stream, rounded to dtype. */
export function gaussian(stream: RandomStream, rows: number, cols: number, std: number, dtype: FloatDType): Mat {
  const v = new Float64Array(rows * cols);
  const { seed, offset } = stream.take('normal', v.length);
  fillNormal(v, seed, offset);
  return rounded(mat(rows, cols, v.map((x) => x * std)), dtype);
}

/** m with its values rounded to dtype (what a tensor of that dtype holds). */
export function rounded(m: Mat, dtype: FloatDType): Mat {
  const t = typedArrayFor(dtype, m.data.length);
  t.set(m.data);
  return mat(m.rows, m.cols, Float64Array.from(t));
}

/** A new CPU tensor holding m's values. */
export function leaf(m: Mat, dtype: FloatDType, opts: { requiresGrad?: boolean; parameter?: boolean } = {}): Tensor {
  return tensor(m.data, { shape: [m.rows, m.cols], dtype, ...opts });
}

/** The host matrices of one case: X [N, d], W [d, o], A [d, r] (by init), B [r, o], dY [N, o]. */
export interface LoraData {
  c: LoraCase;
  X: Mat;
  W: Mat;
  A: Mat;
  B: Mat;
  dY: Mat;
}

export function makeData(c: LoraCase): LoraData {
  const s = randomStream('verify', c.seed);
  const A = rounded(mat(c.d, c.r, initFactor('verify', c.init, c.d, c.r, 'columns', s)), c.dtype);
  return {
    c,
    A,
    X: gaussian(s, c.N, c.d, 1, c.dtype),
    W: gaussian(s, c.d, c.o, 1 / Math.sqrt(c.d), c.dtype),
    B: gaussian(s, c.r, c.o, 1, c.dtype),
    dY: gaussian(s, c.N, c.o, 1, c.dtype),
  };
}

/** W + σ·A·B, the effective weight, rounded to the case's dtype. */
export function effectiveWeight(data: LoraData): Mat {
  return rounded(combine(data.W, 1, scale(matmul(data.A, data.B), data.c.sigma), 1), data.c.dtype);
}

/**
 * The Full-FT gradient G = ∂L/∂W = Xᵀ·dY, computed independently of every LoRA code path: the
 * engine's generic autograd through ops.linear with the effective weight as a trainable leaf.
 */
export function fullGradient(data: LoraData): Mat {
  const { dtype } = data.c;
  const Weff = leaf(effectiveWeight(data), dtype, { requiresGrad: true, parameter: true });
  linear(leaf(data.X, dtype), Weff).backward(leaf(data.dY, dtype));
  return fromTensor(Weff.grad!);
}

export type Method = 'lora' | 'loraFA' | 'loraFB';

/**
 * The scale each result of a LoRA op has on this data: ‖y‖ ≤ ‖X‖(‖W‖ + |σ|‖A‖‖B‖) and the like;
 * a projected gradient is (1/σ)(UᵀU)⁻¹UᵀG, of the order ‖X‖‖dY‖/(|σ|‖U‖). Tolerances of relative
 * errors use them so a tiny result is not over-weighted, and injected faults perturb on them.
 */
export function naturalScales(data: LoraData) {
  const s = Math.abs(data.c.sigma);
  const [X, W, A, B, dY] = [data.X, data.W, data.A, data.B, data.dY].map(norm) as [number, number, number, number, number];
  const weights = W + s * A * B;
  return {
    y: X * weights,
    gradX: dY * weights,
    gradA: s * X * dY * B,
    gradB: s * X * A * dY,
    projectedA: (X * dY) / Math.max(s * B, Number.MIN_VALUE),
    projectedB: (X * dY) / Math.max(s * A, Number.MIN_VALUE),
  };
}

export interface MethodRun {
  y: Mat;
  gradX: Mat | null;
  gradA: Mat | null;
  gradB: Mat | null;
}

/**
 * Runs one LoRA op on the case with upstream gradient dY: LoRA trains A and B, LoRA-FA trains
 * B, LoRA-FB trains A; x needs a gradient when withGradX. With batch = k (k divides N), x is
 * given as a rank-3 [k, N/k, d] tensor (and dY as [k, N/k, o]); y and gradX come back as
 * [N, o] and [N, d].
 */
export function runMethod(
  data: LoraData,
  method: Method,
  options: { correction?: 'closed-form' | 'none'; dropout?: number; seed?: number; withGradX?: boolean; ridge?: number; batch?: number } = {},
): MethodRun {
  const { dtype, sigma, N } = data.c;
  const k = options.batch ?? 1;
  const batched = (m: Mat) => tensor(m.data, { shape: [k, N / k, m.cols], dtype });
  const x = k === 1 ? leaf(data.X, dtype, { requiresGrad: options.withGradX ?? false }) : batched(data.X);
  x.requiresGrad = options.withGradX ?? false;
  const W = leaf(data.W, dtype, { parameter: true });
  const A = leaf(data.A, dtype, { parameter: true, requiresGrad: method !== 'loraFA' });
  const B = leaf(data.B, dtype, { parameter: true, requiresGrad: method !== 'loraFB' });
  const opts = { scale: sigma, dropout: options.dropout, seed: options.seed, correction: options.correction, ridge: options.ridge };
  const op = { lora, loraFA, loraFB }[method];
  const y = op(x, W, A, B, opts);
  y.backward(k === 1 ? leaf(data.dY, dtype) : batched(data.dY));
  const flat = (t: Tensor) => fromTensor(t.rank === 2 ? t : reshape(t, [N, t.shape[t.rank - 1]!]));
  // what the harness reads, through the fault hooks (the identity unless a fault is injected)
  const s = naturalScales(data);
  const projected = options.correction !== 'none';
  const grad = (t: Tensor, natural: number) => (t.grad ? perturb('grad', flat(t.grad), natural) : null);
  return {
    y: perturb('output', flat(y), s.y),
    gradX: grad(x, s.gradX),
    gradA: grad(A, method === 'loraFB' && projected ? s.projectedA : s.gradA),
    gradB: grad(B, method === 'loraFA' && projected ? s.projectedB : s.gradB),
  };
}
