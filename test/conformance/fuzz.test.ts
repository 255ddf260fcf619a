/**
 * Random op sequences (≥ 200 per run): a program of 2–8 steps transforms x [r, c], creating
 * new leaves (weights, biases) as it goes, combined with x elementwise, by rows, or broadcast
 * both ways ([r, 1] ∘ [1, c]); it runs forward and backward on every backend, and outputs and
 * leaf gradients are compared with the CPU float64 run. Steps are smooth (no kinks, no ties)
 * and layerNorm uses a large eps, so float32 differences stay small.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keep, ops, scope, tensor, type Tensor } from '../../src/index.ts';
import { skipReason, webgpu, webgpuRequired } from '../webgpu/gpu.ts';
import { inputValues, REFERENCE, TARGETS, upstreamValues, useTarget, type Outcome, type Target } from './evaluate.ts';

type Step =
  | { kind: 'unary'; op: 'tanh' | 'sigmoid' | 'gelu' | 'geluErf' | 'silu' }
  | { kind: 'binary'; op: 'add' | 'sub' | 'mul'; operand: 'full' | 'row' | 'mutual' }
  | { kind: 'matmul'; cols: number; transB: boolean }
  | { kind: 'softmax'; log: boolean; axis: number }
  | { kind: 'layerNorm' }
  | { kind: 'transpose' }
  | { kind: 'mean'; axis: number }
  | { kind: 'slice' }
  | { kind: 'concat' }
  | { kind: 'dropout'; p: number }
  | { kind: 'scale'; s: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('unary' as const), op: fc.constantFrom('tanh' as const, 'sigmoid' as const, 'gelu' as const, 'geluErf' as const, 'silu' as const) }),
  fc.record({
    kind: fc.constant('binary' as const), op: fc.constantFrom('add' as const, 'sub' as const, 'mul' as const),
    operand: fc.constantFrom('full' as const, 'row' as const, 'mutual' as const),
  }),
  fc.record({ kind: fc.constant('matmul' as const), cols: fc.constantFrom(1, 4, 17), transB: fc.boolean() }),
  fc.record({ kind: fc.constant('softmax' as const), log: fc.boolean(), axis: fc.constantFrom(0, 1) }),
  fc.record({ kind: fc.constant('layerNorm' as const) }),
  fc.record({ kind: fc.constant('transpose' as const) }),
  fc.record({ kind: fc.constant('mean' as const), axis: fc.constantFrom(0, 1) }),
  fc.record({ kind: fc.constant('slice' as const) }),
  fc.record({ kind: fc.constant('concat' as const) }),
  fc.record({ kind: fc.constant('dropout' as const), p: fc.constantFrom(0.2, 0.5) }),
  fc.record({ kind: fc.constant('scale' as const), s: fc.constantFrom(-1.5, 0.5, 3) }),
);

const program = fc.record({
  rows: fc.constantFrom(1, 2, 3, 5, 8, 13),
  cols: fc.constantFrom(1, 2, 3, 5, 8, 13),
  steps: fc.array(step, { minLength: 2, maxLength: 8 }),
  seed: fc.nat(),
});
type Program = typeof program extends fc.Arbitrary<infer P> ? P : never;

/** Runs the program on a target: leaves are x and one new tensor per step that needs one. */
async function run(prog: Program, target: Target): Promise<Outcome> {
  const { device, dtype } = target;
  await useTarget(target);
  const leaves: Tensor[] = [];
  const leaf = (shape: number[], scale = 1): Tensor => {
    const values = inputValues([shape], prog.seed + 31 * leaves.length)[0]!.map((v) => Math.fround(v * scale));
    const t = keep(tensor(values, { shape, dtype, device, requiresGrad: true })); // outlives the program's scope
    leaves.push(t);
    return t;
  };
  const apply = (x: Tensor, s: Step): Tensor => {
    const [r, c] = x.shape as [number, number];
    switch (s.kind) {
      case 'unary': return s.op === 'geluErf' ? ops.gelu(x, { approximate: 'none' }) : ops[s.op](x);
      case 'binary':
        // mutual: mean over columns [r, 1] ∘ a new leaf [1, c], so backward reduces both operands
        if (s.operand === 'mutual') return ops[s.op](ops.mean(x, 1, true), leaf([1, c]));
        return ops[s.op](x, leaf(s.operand === 'row' ? [1, c] : [r, c]));
      case 'matmul': return ops.matmul(x, leaf(s.transB ? [s.cols, c] : [c, s.cols], 1 / Math.sqrt(c)), { transB: s.transB });
      case 'softmax': return (s.log ? ops.logSoftmax : ops.softmax)(x, s.axis);
      case 'layerNorm': return ops.layerNorm(x, leaf([c]), leaf([c]), 0.1);
      case 'transpose': return ops.transpose(x);
      case 'mean': return ops.mean(x, s.axis, true);
      case 'slice': return c > 1 ? ops.slice(x, 1, 1, c) : x;
      case 'concat': return c <= 16 ? ops.concat([x, ops.tanh(x)], 1) : x;
      case 'dropout': return ops.dropout(x, s.p, { seed: prog.seed });
      case 'scale': return ops.mul(x, s.s);
    }
  };
  try {
    const x = leaf([prog.rows, prog.cols]);
    const y = scope(() => prog.steps.reduce(apply, x));
    const out = { shape: [...y.shape], y: await y.data() };
    const g = tensor(upstreamValues(y.size, prog.seed), { shape: y.shape, dtype, device });
    y.backward(g);
    g.dispose();
    y.dispose();
    return { ...out, grads: await Promise.all(leaves.map((t) => (t.grad ? t.grad.data() : null))) };
  } finally {
    for (const t of leaves) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

/** |got − ref| ≤ 1e-3·(1 + max |ref|) over a whole tensor: relative to its scale, robust in long chains. */
function expectNear(what: string, got: ArrayLike<number>, ref: ArrayLike<number>): void {
  let scale = 0, worst = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]!));
    worst = Math.max(worst, Math.abs(got[i]! - ref[i]!));
  }
  expect(worst, what).toBeLessThanOrEqual(1e-3 * (1 + scale));
}

describe(`fuzz: random op sequences on ${TARGETS.map((t) => t.label).join(', ')} against ${REFERENCE.label}`, () => {
  it('runs on WebGPU when it is required', () => {
    if (webgpuRequired) expect(webgpu, skipReason).not.toBeNull();
  });

  it('agrees on outputs and every leaf gradient for 200 random programs', async () => {
    await fc.assert(fc.asyncProperty(program, async (prog) => {
      const ref = await run(prog, REFERENCE);
      for (const target of TARGETS) {
        const got = await run(prog, target);
        const what = `${target.label}, program ${JSON.stringify(prog)}`;
        expect(got.shape, what).toEqual(ref.shape);
        expectNear(`${what}: output`, got.y, ref.y);
        ref.grads.forEach((g, i) => expectNear(`${what}: gradient of leaf ${i}`, got.grads[i] ?? [], g ?? []));
      }
    }), { numRuns: Math.max(200, Number(process.env.FC_RUNS ?? 0)) });
  });
});
