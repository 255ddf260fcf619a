/**
 * One helper checks any op, forward and backward (as tinygrad's helper_test_op):
 *   checkOp({ shapes: [[2, 3], [3]], seed, op: (a, b) => ops.add(a, b), ref: (a, b) => zip(a, b, (x, y) => x + y) });
 * builds float64 inputs from a seeded generator (inside the domain the op needs), compares the
 * forward output with the naive reference, and the gradients with central differences.
 */
import { expect } from 'vitest';
import { gradcheck, ops, tensor, type GradcheckOptions, type Tensor } from '../../src/index.ts';
import { expectClose } from './allclose.ts';
import { nd, size, type Nd } from './reference.ts';

/**
 * Where input values are drawn from: uniform on [min, max] (default [−2, 2]); with awayFromZero
 * a, |v| ∈ [a, max] with a random sign (abs, relu: no kink within eps); distinct: a shuffled
 * grid with gaps of at least (max − min)/(2n), so a max has no ties.
 */
export interface Domain {
  min?: number;
  max?: number;
  awayFromZero?: number;
  distinct?: boolean;
}

/** mulberry32: a tiny seeded generator for test data (independent of the engine's Philox). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomValues(n: number, seed: number, domain: Domain = {}): number[] {
  const next = rng(seed);
  const min = domain.min ?? -2, max = domain.max ?? 2;
  if (domain.distinct) {
    const gap = (max - min) / Math.max(n, 1);
    const vals = Array.from({ length: n }, (_, i) => min + (i + 0.25 + 0.5 * next()) * gap);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [vals[i], vals[j]] = [vals[j]!, vals[i]!];
    }
    return vals;
  }
  if (domain.awayFromZero !== undefined) {
    const a = domain.awayFromZero;
    return Array.from({ length: n }, () => (next() < 0.5 ? -1 : 1) * (a + next() * (max - a)));
  }
  return Array.from({ length: n }, () => min + next() * (max - min));
}

/** A float64 CPU tensor of random values, and the same values as an Nd for the reference. */
export function randomInput(shape: readonly number[], seed: number, domain: Domain = {}, requiresGrad = true): { t: Tensor; ref: Nd } {
  const values = randomValues(size(shape), seed, domain);
  return { t: tensor(Float64Array.from(values), { shape, dtype: 'float64', requiresGrad }), ref: nd(shape, values) };
}

/**
 * gradcheck settings of the tests, far tighter than gradcheck's user-facing defaults (rtol 1e-3,
 * atol 1e-5), so that a gradient off by 0.05% fails (test/core/helpers.test.ts shows it does).
 * eps = 1e-5 rather than the default 1e-6 balances the two errors of a central difference,
 * truncation eps²·f‴/6 ≈ 2e-11·f‴ and rounding ≈ ε·|L|/eps ≈ 2e-11·|L| (L = Σ w·y): at 1e-6 the
 * rounding alone reached 5e-8 for a logSoftmax of 75 elements. Worst absolute errors measured
 * over test/core (FC_RUNS=100): ≤ 5e-9 for most ops, 5e-8 for log and pow −1.5, whose
 * gradients reach ~30 near x = 0.1 (within rtol).
 */
export const GRAD_TOL: GradcheckOptions = { eps: 1e-5, rtol: 1e-6, atol: 1e-8 };

export interface OpCase {
  shapes: readonly (readonly number[])[];
  seed: number;
  op: (...xs: Tensor[]) => Tensor;
  ref: (...xs: Nd[]) => Nd;
  /** One domain for every input, or one per input. */
  domain?: Domain | Domain[];
  /** Which inputs require grad (default: all). */
  grad?: boolean[];
  forwardTol?: { atol?: number; rtol?: number };
  /** Overrides GRAD_TOL; an op that needs it says why where it sets it. */
  gradTol?: GradcheckOptions;
}

/** Asserts forward == reference (shape and values) and backward == central differences. */
export function checkOp(c: OpCase): void {
  const inputs = c.shapes.map((shape, i) => {
    const domain = Array.isArray(c.domain) ? c.domain[i] : c.domain;
    return randomInput(shape, c.seed + 7919 * i, domain, c.grad?.[i] ?? true);
  });
  const ts = inputs.map((x) => x.t);
  const y = c.op(...ts);
  const want = c.ref(...inputs.map((x) => x.ref));
  expect(y.shape, 'output shape').toEqual(want.shape);
  expect(y.dtype).toBe('float64');
  expectClose(y.dataSync(), want.data, { atol: 1e-10, rtol: 1e-9, ...c.forwardTol });
  if (ts.some((t) => t.requiresGrad)) {
    const r = gradcheck(c.op, ts, { ...GRAD_TOL, ...c.gradTol });
    expect(r.ok, `gradcheck failed: max error ${r.maxAbsError}, worst ${JSON.stringify(r.worst)}`).toBe(true);
    // backward(w) (the caller's gradient, as gradcheck uses) and Σ y·w (a seed the engine owns)
    // must agree: ownership of passed-through gradients differs between the two paths
    const w = tensor(Float64Array.from(randomValues(y.size, c.seed + 1, { min: 0.5, max: 1.5 })), { shape: y.shape, dtype: 'float64' });
    const grads = (run: () => void) => {
      for (const t of ts) t.grad = null;
      run();
      return ts.map((t) => (t.grad ? t.grad.dataSync() : null));
    };
    const viaGradient = grads(() => c.op(...ts).backward(w));
    const viaScalar = grads(() => ops.sum(ops.mul(c.op(...ts), w)).backward());
    ts.forEach((t, i) => {
      if (!t.requiresGrad) return expect(t.grad).toBeNull();
      expectClose(viaScalar[i] ?? new Float64Array(t.size), viaGradient[i] ?? new Float64Array(t.size), { atol: 1e-12, rtol: 1e-12 });
    });
    w.dispose();
  }
  for (const t of ts) {
    t.grad?.dispose();
    t.dispose();
  }
  y.dispose();
}
