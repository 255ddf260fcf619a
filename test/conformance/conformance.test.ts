/**
 * The conformance suite: every op of the table (op-table.ts), forward and gradient, on every
 * backend and CPU tier (evaluate.ts: the CPU's JavaScript and WebAssembly tiers in float32, the
 * WebAssembly tier in float64 too, WebGPU float32 where an adapter exists; required in CI) against
 * the float64 reference of the JavaScript tier, on fast-check shapes that include 1, primes and
 * tile edges.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { getBackend, loraFactorStats } from '../../src/index.ts';
import { skipReason, webgpu, webgpuRequired } from '../webgpu/gpu.ts';
import { evaluate, expectConform, inputValues, REFERENCE, TARGETS, upstreamValues } from './evaluate.ts';
import { OPS } from './op-table.ts';

const TOL = { atol: 2e-5, rtol: 1e-4 };
const GRAD_TOL = { atol: 1e-4, rtol: 1e-3 };
/** Cases per op (each runs the reference and every target). */
const RUNS = Math.min(Number(process.env.FC_RUNS ?? 25), 25);

const devices = [...new Set([REFERENCE, ...TARGETS].map((t) => t.device))];
const liveBuffers = () => devices.reduce((n, d) => n + getBackend(d).memory().liveBuffers, 0);

describe(`conformance of every op on ${TARGETS.map((t) => t.label).join(', ')} against ${REFERENCE.label}`, () => {
  let baseline = { buffers: 0, factors: 0 };
  beforeAll(() => {
    baseline = { buffers: liveBuffers(), factors: loraFactorStats().cached };
  });

  it('runs on WebGPU when it is required', () => {
    if (webgpuRequired) expect(webgpu, skipReason).not.toBeNull();
    expect(TARGETS.some((t) => t.device === 'webgpu')).toBe(webgpu !== null);
  });

  for (const op of OPS) {
    it(op.name, async () => {
      await fc.assert(fc.asyncProperty(op.cases, fc.nat(), async (c, seed) => {
        const values = inputValues(c.shapes, seed, op.domain);
        const grad = c.shapes.map((_, i) => (op.grad ? op.grad[i] ?? false : true));
        const build = (xs: Parameters<typeof op.run>[0]) => op.run(xs, c.p);
        const upstream = (n: number) => upstreamValues(n, seed);
        const ref = await evaluate(REFERENCE, c.shapes, values, grad, build, upstream, op.prepare);
        for (const target of TARGETS) {
          const got = await evaluate(target, c.shapes, values, grad, build, upstream, op.prepare);
          expectConform(`${op.name} on ${target.label}, inputs ${JSON.stringify(c.shapes)}`, got, ref, {
            tol: target.tol ?? { ...TOL, ...op.tol },
            gradTol: target.tol ?? { ...GRAD_TOL, ...op.gradTol },
          });
        }
      }), { numRuns: RUNS });
    });
  }

  it('leaves no buffer behind on any backend (but the cached LoRA factors, freed with their matrices by the GC)', () => {
    expect(liveBuffers() - baseline.buffers).toBe(loraFactorStats().cached - baseline.factors);
  });
});
