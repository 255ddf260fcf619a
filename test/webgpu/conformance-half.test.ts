/**
 * Every op of the conformance table (test/conformance/op-table.ts), forward and gradient, in
 * float16 and bfloat16 on WebGPU, against the CPU float64 reference run on the same inputs —
 * the inputs and the upstream gradient rounded to the 16-bit dtype first, so the comparison
 * measures the 16-bit computation and not the rounding of its inputs.
 *
 * Tolerances from the format's ε (float16 2⁻¹⁰, bfloat16 2⁻⁷). A 16-bit kernel computes in
 * float32 (whose error is ~2¹⁶ times smaller, negligible here) and rounds its output once: error
 * ≤ ε/2·|y|. An op made of k kernels rounds k times, and a rounding of an intermediate t reaches
 * the output with the size of t, not of y (x·W + σ·(x·A)·B where the terms cancel): so the bound
 * is norm-wise, |y − ref| ≤ c·ε·(max|ref| + |ref|) elementwise, with max|ref| the largest
 * magnitude of that output (or gradient; at least 1) standing for the intermediates' scale and c
 * the number of roundings on the longest path: forward c = 2, backward (the roundings of the
 * forward's saved outputs, the upstream gradient and each backward kernel) c = 8. Measured: every
 * op but dora and vera stays within c = 0.5 forward and 2 backward; the bounds leave 4× margin.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { getBackend, loraFactorStats, LorafaError } from '../../src/index.ts';
import { decodeHalf, encodeHalf, HALF_FORMATS, type HalfDType } from '../../src/half-float.ts';
import { evaluate, expectConform, inputValues, REFERENCE, upstreamValues, type Target } from '../conformance/evaluate.ts';
import { OPS, type Tol } from '../conformance/op-table.ts';
import { expect } from 'vitest';
import { skipReason, webgpu } from './gpu.ts';

/** Cases per op and dtype (each runs the float64 reference and the 16-bit target). */
const RUNS = Math.min(Number(process.env.FC_RUNS ?? 12), 12);
/** Roundings on the longest path, with margin (see above). */
const FORWARD_ROUNDINGS = 2;
const BACKWARD_ROUNDINGS = 8;
/** No gradients are passed to expectConform's gradient check (they are checked one by one). */
const NONE: Tol = { atol: 0, rtol: 0 };

/** c·ε·max(1, max|ref|) and c·ε: the norm-wise tolerance of a reference array (see above). */
function normwise(ref: ArrayLike<number>, c: number, epsilon: number): Tol {
  let scale = 1;
  for (let i = 0; i < ref.length; i++) if (Number.isFinite(ref[i])) scale = Math.max(scale, Math.abs(ref[i]!));
  return { atol: c * epsilon * scale, rtol: c * epsilon };
}

describe.skipIf(!webgpu)(`conformance of every op in float16 and bfloat16 on WebGPU against ${REFERENCE.label} ${skipReason}`, () => {
  const live = () => getBackend('webgpu').memory().liveBuffers + getBackend('cpu').memory().liveBuffers;
  for (const dtype of ['float16', 'bfloat16'] as const satisfies readonly HalfDType[]) {
    const f = HALF_FORMATS[dtype];
    const round = (v: number) => decodeHalf(f, encodeHalf(f, v));
    const target: Target = { label: `webgpu ${dtype}`, device: 'webgpu', dtype };
    describe(dtype, () => {
      let baseline = { buffers: 0, factors: 0 };
      it('starts from a baseline of live buffers', () => {
        baseline = { buffers: live(), factors: loraFactorStats().cached };
        expect(baseline.buffers).toBeGreaterThanOrEqual(0);
      });
      for (const op of OPS) {
        it(op.name, async () => {
          await fc.assert(fc.asyncProperty(op.cases, fc.nat(), async (c, seed) => {
            const values = inputValues(c.shapes, seed, op.domain).map((v) => v.map(round));
            const grad = c.shapes.map((_, i) => (op.grad ? op.grad[i] ?? false : true));
            const build = (xs: Parameters<typeof op.run>[0]) => op.run(xs, c.p);
            const upstream = (n: number) => upstreamValues(n, seed).map(round);
            const ref = await evaluate(REFERENCE, c.shapes, values, grad, build, upstream, op.prepare);
            const got = await evaluate(target, c.shapes, values, grad, build, upstream, op.prepare).catch((e: unknown) => {
              // a factor too ill-conditioned for the dtype is refused (src/lora/gram.ts: 0.1/ε, 12.8 for
              // bfloat16, which random [d, r] factors often pass): a case the op does not run
              if (e instanceof LorafaError && e.op === 'prepareLoraFactor' && /ill-conditioned/.test(e.message)) return null;
              throw e;
            });
            fc.pre(got !== null);
            const what = `${op.name} on ${target.label}, inputs ${JSON.stringify(c.shapes)}`;
            expectConform(what, { ...got, grads: [] }, { ...ref, grads: [] }, { tol: normwise(ref.y, FORWARD_ROUNDINGS, f.epsilon), gradTol: NONE });
            ref.grads.forEach((g, i) => expectConform(`${what}, gradient of input ${i}`,
              { shape: got.shape, y: got.grads[i] ?? new Float64Array(0), grads: [] }, { shape: ref.shape, y: g ?? new Float64Array(0), grads: [] },
              { tol: normwise(g ?? [], BACKWARD_ROUNDINGS, f.epsilon), gradTol: NONE }));
            expect(got.grads.map((g) => g === null)).toEqual(ref.grads.map((g) => g === null));
          }), { numRuns: RUNS });
        });
      }
      it('leaves no buffer behind (but the cached LoRA factors, freed with their matrices by the GC)', () => {
        expect(live() - baseline.buffers).toBe(loraFactorStats().cached - baseline.factors);
      });
    });
  }
});
