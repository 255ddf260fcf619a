/**
 * WebGPU kernels against the CPU kernels, called directly: row-wise kernels (softmax,
 * layerNorm, crossEntropy and gradients), embedding rows, the LoRA-FA solve and the optimizer
 * steps. Row lengths cross the workgroup sizes (32 … 256) and the 65535-workgroup grid split.
 */
import { describe, expect, it } from 'vitest';
import { choleskyF64 } from '../../src/linalg/dense.ts';
import { expectClose } from '../helpers/allclose.ts';
import { randomValues, type Domain } from '../helpers/check-op.ts';
import { cpu, runKernel, skipReason, webgpu } from './gpu.ts';

const f32 = (n: number, seed: number, domain?: Domain) => Float32Array.from(randomValues(n, seed, domain));
const TOL = { atol: 2e-6, rtol: 2e-5 };
const SHAPES = [[1, 1], [3, 5], [2, 31], [4, 33], [2, 257], [1, 1000], [70000, 2]] as const;

describe.skipIf(!webgpu)(`WebGPU kernels: nn, embedding, solve, optimizers ${skipReason}`, () => {
  const gpu = webgpu!;
  const both = async (...args: Parameters<typeof runKernel> extends [unknown, ...infer R] ? R : never) =>
    [await runKernel(cpu(), ...args), await runKernel(gpu, ...args)] as const;

  it('softmax and log-softmax (and gradients) are stable and match the CPU, −∞ entries included', async () => {
    for (const [rows, cols] of SHAPES) {
      const x = f32(rows * cols, cols, { min: -30, max: 30 });
      x[0] = -Infinity; // a masked entry (as a causal mask writes)
      for (const log of [false, true]) {
        const [[cy], [gy]] = await both([x], (k, [s]) => k.softmax(s!, rows, cols, log));
        expectClose(gy!, cy!, { atol: log ? 4e-6 : 1e-6, rtol: 1e-5 }); // log: (x − m) rounds to ½ulp(60) absolute
        const [[cd], [gd]] = await both([cy!, f32(rows * cols, 5)], (k, [y, g]) => k.softmaxGrad(y!, g!, rows, cols, log));
        expectClose(gd!, cd!, { atol: 1e-5, rtol: 1e-4 });
      }
    }
  });

  it('logSoftmax and crossEntropy keep float32 precision for large logits: (x − m) − ln s, not x − (m + ln s)', async () => {
    const F32_TIGHT = { atol: 1e-6, rtol: 1e-6 };
    const [[c1], [g1]] = await both([Float32Array.of(1e5, 1e5, 99999)], (k, [s]) => k.softmax(s!, 1, 3, true));
    expectClose(g1!, c1!, F32_TIGHT);
    expect(g1![2]).toBeCloseTo(-1.8619948, 6); // x − (m + ln s) gave −1.859375 (ln s rounded to ulp(1e5))
    for (const [rows, cols, offset] of [[1, 3, 1e5], [2, 300, -3e4], [3, 513, 1e5]] as const) {
      const z = f32(rows * cols, cols, { min: -5, max: 5 }).map((v) => v + offset);
      const [[cs], [gs]] = await both([z], (k, [s]) => k.softmax(s!, rows, cols, true));
      expectClose(gs!, cs!, F32_TIGHT);
      const targets = Int32Array.from({ length: rows }, (_, i) => (i * 7) % cols);
      const [c, w] = await both([z, targets], (k, [zs, t]) => k.crossEntropy(zs!, t!, rows, cols, -100));
      expectClose(w[0]!, c[0]!, F32_TIGHT); // loss = (m − z[t]) + ln s
      expect(w[1]).toEqual(c[1]); // lse = m + ln s, rounded to float32 alike
      // exp(z − lse) is off by lse's rounding (up to 0.4% here), the same for the row: Σe normalises it away
      const [[cd], [gd]] = await both([z, c[1]!, targets, Float32Array.of(1)], (k, [zs, lse, t, sc]) =>
        k.crossEntropyGrad(zs!, lse!, t!, sc!, rows, cols, -100));
      expectClose(gd!, cd!, F32_TIGHT);
    }
    const [[cl], [gl]] = await both([Float32Array.of(1e5, 1e5, 99999), Int32Array.of(2)], (k, [z, t]) => k.crossEntropy(z!, t!, 1, 3, -100).loss);
    expect(gl![0]).toBeCloseTo(1.8619948, 6);
    expectClose(gl!, cl!, F32_TIGHT);
  });

  it('layerNorm and its gradients match with and without gamma and beta, and without dγ, dβ (frozen)', async () => {
    for (const [rows, cols] of SHAPES) {
      const x = f32(rows * cols, rows + cols, { min: -3, max: 5 }), gamma = f32(cols, 2), beta = f32(cols, 3), g = f32(rows * cols, 4);
      for (const affine of [true, false]) {
        const inputs = [x, gamma, beta];
        const [c, w] = await both(inputs, (k, [xs, gs, bs]) => k.layerNorm(xs!, affine ? gs! : null, affine ? bs! : null, rows, cols, 1e-5));
        // two-element rows with close values are ill-conditioned in float32 (x − μ cancels): 2e-4 absolute
        c.forEach((v, i) => expectClose(w[i]!, v, { atol: 2e-4, rtol: 1e-4 }));
        for (const grads of [true, false]) {
          const [cg, wg] = await both([x, gamma, c[1]!, c[2]!, g], (k, [xs, gs, mean, rstd, gr]) => {
            const r = k.layerNormGrad(xs!, affine ? gs! : null, mean!, rstd!, gr!, rows, cols, grads);
            return [r.gradX, r.gradGamma, r.gradBeta].filter((s) => s !== null);
          });
          expect(wg.length).toBe(grads ? 3 : 1);
          cg.forEach((v, i) => expectClose(wg[i]!, v, { atol: 1e-4 * Math.sqrt(rows), rtol: 1e-4 }));
        }
      }
    }
  });

  it('crossEntropy and its gradient match, with ignored rows and out-of-range targets (NaN loss)', async () => {
    for (const [rows, classes] of SHAPES) {
      const logits = f32(rows * classes, classes, { min: -20, max: 20 });
      const targets = Int32Array.from({ length: rows }, (_, i) => (i % 5 === 3 ? -100 : i % 7 === 6 ? classes + 1 : (i * 13) % classes));
      const [c, w] = await both([logits, targets], (k, [z, t]) => k.crossEntropy(z!, t!, rows, classes, -100));
      c.forEach((v, i) => expectClose(w[i]!, v, { atol: 1e-5, rtol: 1e-5 }));
      const [[cd], [gd]] = await both([logits, c[1]!, targets, Float32Array.of(0.37)], (k, [z, lse, t, s]) =>
        k.crossEntropyGrad(z!, lse!, t!, s!, rows, classes, -100));
      expectClose(gd!, cd!, { atol: 1e-6, rtol: 1e-5 });
    }
  });

  it('gatherRows reads rows (0 outside the table); scatterAddRows sums duplicates exactly as the CPU', async () => {
    const V = 11, D = 6;
    const table = f32(V * D, 1);
    const idx = Int32Array.from([3, 0, 10, 3, -1, 11, 3, 7, 0]);
    const [[cg], [gg]] = await both([table, idx], (k, [t, i]) => k.gatherRows(t!, i!, idx.length, D));
    expect(gg).toEqual(cg);
    const src = f32(idx.length * D, 2);
    const [[cs], [gs]] = await both([src, idx], (k, [s, i]) => k.scatterAddRows(s!, i!, idx.length, V, D));
    expect(gs).toEqual(cs); // same summation order (increasing i) in float32: bit-identical
    const many = Int32Array.from({ length: 3000 }, (_, i) => (i * 7919) % 37);
    const [[cm], [gm]] = await both([f32(3000 * 3, 3), many], (k, [s, i]) => k.scatterAddRows(s!, i!, 3000, 40, 3));
    expect(gm).toEqual(cm);
  });

  it('cholSolve solves L·Lᵀ·X = rhs per column', async () => {
    for (const [r, cols] of [[1, 1], [4, 7], [16, 65], [33, 3]]) {
      const A = randomValues(r * (r + 3), r, { min: -1, max: 1 }); // [r + 3, r] → AᵀA is positive definite
      const gram = new Float64Array(r * r);
      for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) for (let t = 0; t < r + 3; t++) gram[i * r + j]! += A[t * r + i]! * A[t * r + j]!;
      const L = Float32Array.from(choleskyF64(gram, r));
      const [[c], [g]] = await both([L, f32(r * cols, 9)], (k, [l, b]) => k.cholSolve(l!, b!, r, cols));
      expectClose(g!, c!, { atol: 1e-4, rtol: 1e-3 });
    }
  });

  it('adamwStep and sgdStep update in place like the CPU', async () => {
    const n = 1001;
    const [p, grad, m, v] = [f32(n, 1), f32(n, 2), f32(n, 3, { min: -0.1, max: 0.1 }), f32(n, 4, { min: 0, max: 0.2 })];
    const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 };
    const [c, w] = await both([p, grad, m, v], (k, [ps, gs, ms, vs]) => k.adamwStep(ps!, gs!, ms!, vs!, h), (s) => [s[0]!, s[2]!, s[3]!]);
    c.forEach((x, i) => expectClose(w[i]!, x, TOL));
    for (const [momentum, nesterov] of [[0, false], [0.9, false], [0.9, true]] as const) {
      const hs = { lr: 0.1, momentum, weightDecay: 0.01, nesterov };
      const [cs, ws] = await both([p, grad, m], (k, [ps, gs, bs]) => k.sgdStep(ps!, gs!, momentum ? bs! : null, hs), (s) => [s[0]!, s[2]!]);
      cs.forEach((x, i) => expectClose(ws[i]!, x, TOL));
    }
  });
});
