/**
 * Every op of the conformance table, forward and gradient, in float16 and bfloat16 on WebGPU
 * against the CPU float64 reference run on the same, exactly 16-bit, inputs and upstream gradient
 * — the CPU tiers' harness (test/conformance/half.ts) with a WebGPU target: the same tolerances,
 * derived from the format's unit roundoff and each op's error model (op-table.ts's HalfModel).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { getBackend, loraFactorStats } from '../../src/index.ts';
import { evaluate, expectConform, inputValues, REFERENCE, upstreamValues, type Target } from '../conformance/evaluate.ts';
import { HALF_DTYPES, halfTolerances, needsMagnitudeRun, roundedTo, runsIn } from '../conformance/half.ts';
import { OPS } from '../conformance/op-table.ts';
import { skipReason, webgpu } from './gpu.ts';

/** Cases per op and format (each runs the reference and the WebGPU target). */
const RUNS = Math.min(Number(process.env.FC_RUNS ?? 10), 10);

describe.skipIf(!webgpu).each(HALF_DTYPES)(`conformance of every op in %s on WebGPU against cpu js float64 ${skipReason}`, (dtype) => {
  const target: Target = { label: `webgpu ${dtype}`, device: 'webgpu', dtype };
  const live = () => getBackend('webgpu').memory().liveBuffers + getBackend('cpu').memory().liveBuffers;
  let baseline = { buffers: 0, factors: 0 };
  beforeAll(() => {
    baseline = { buffers: live(), factors: loraFactorStats().cached };
  });

  for (const op of OPS.filter((o) => runsIn(o, dtype))) {
    it(op.name, async () => {
      await fc.assert(fc.asyncProperty(op.half?.cases ?? op.cases, fc.nat(), async (c, seed) => {
        const values = inputValues(c.shapes, seed, op.domain).map((v) => roundedTo(dtype, v));
        const grad = c.shapes.map((_, i) => (op.grad ? op.grad[i] ?? false : true));
        const build = (xs: Parameters<typeof op.run>[0]) => op.run(xs, c.p);
        const upstream = (n: number) => roundedTo(dtype, upstreamValues(n, seed));
        const ref = await evaluate(REFERENCE, c.shapes, values, grad, build, upstream, op.prepare);
        const magnitude = needsMagnitudeRun(op)
          ? await evaluate(REFERENCE, c.shapes, values.map((v) => v.map(Math.abs)), grad, build, (n) => upstream(n).map(Math.abs), op.prepare)
          : undefined;
        const got = await evaluate(target, c.shapes, values, grad, build, upstream, op.prepare);
        expectConform(`${op.name} on ${target.label}, inputs ${JSON.stringify(c.shapes)}`, got, ref, halfTolerances(op, dtype, magnitude));
      }), { numRuns: RUNS });
    });
  }

  it('leaves no buffer behind (but the cached LoRA factors, freed with their matrices by the GC)', () => {
    expect(live() - baseline.buffers).toBe(loraFactorStats().cached - baseline.factors);
  });
});
