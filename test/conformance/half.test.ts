/**
 * The conformance suite in float16 and bfloat16: every op of the table, forward and gradient, on
 * every CPU tier (JavaScript; WebAssembly on one thread, three threads with every call split, and
 * without shared memory) and on WebGPU where an adapter exists (required in CI; packed 16-bit
 * storage) against the float64 reference run on the same, exactly 16-bit, inputs — with
 * tolerances derived from the format's ε and the op's error model (half.ts).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { getBackend, loraFactorStats } from '../../src/index.ts';
import { evaluate, expectConform, inputValues, REFERENCE, upstreamValues, type Target } from './evaluate.ts';
import { cpuHalfTargets, HALF_DTYPES, halfTolerances, needsMagnitudeRun, roundedTo, runsIn } from './half.ts';
import { OPS } from './op-table.ts';
import { webgpu } from '../webgpu/gpu.ts';

/** Cases per op and format (each runs the reference and four tiers). */
const RUNS = Math.min(Number(process.env.FC_RUNS ?? 10), 10);

const devices = webgpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const);
const liveBuffers = () => devices.reduce((n, d) => n + getBackend(d).memory().liveBuffers, 0);

describe.each(HALF_DTYPES)(`conformance of every op in %s on every CPU tier${webgpu ? ' and WebGPU' : ''} against cpu js float64`, (dtype) => {
  const targets: Target[] = [...cpuHalfTargets(dtype), ...(webgpu ? [{ label: `webgpu ${dtype}`, device: 'webgpu' as const, dtype }] : [])];
  let baseline = { buffers: 0, factors: 0 };
  beforeAll(() => {
    baseline = { buffers: liveBuffers(), factors: loraFactorStats().cached };
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
        const tolerances = halfTolerances(op, dtype, magnitude);
        for (const target of targets) {
          const got = await evaluate(target, c.shapes, values, grad, build, upstream, op.prepare);
          expectConform(`${op.name} on ${target.label}, inputs ${JSON.stringify(c.shapes)}`, got, ref, tolerances);
        }
      }), { numRuns: RUNS });
    });
  }

  it('leaves no buffer behind (but the cached LoRA factors, freed with their matrices by the GC)', () => {
    expect(liveBuffers() - baseline.buffers).toBe(loraFactorStats().cached - baseline.factors);
  });
});
