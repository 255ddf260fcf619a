/**
 * Claim 6: every LoRA-type op computes the same forward, x·W + σ(x·A)·B, and the same input
 * gradient, which equals the Full-FT graph's (dY·W_effᵀ with W_eff = W + σAB) — with each op's
 * default correction (LoRA-FA and LoRA-FB project their trained factor's gradient in the same
 * backward), and with x given as a batched [k, N/k, d] tensor. With dropout on the adapter
 * input, each op's forward and gradients equal a generic graph built from ops.dropout (same
 * seed) and matmuls — which proves the mask regenerated in backward is the forward's mask.
 */
import fc from 'fast-check';
import { dropout } from '../autograd/ops/nn.ts';
import { add, mul } from '../autograd/ops/elementwise.ts';
import { linear } from '../ops.ts';
import { matmul } from '../autograd/ops/matmul.ts';
import { LorafaError } from '../errors.ts';
import { conditionLimit } from '../lora/gram.ts';
import type { Tensor } from '../tensor.ts';
import { EPSILON, roundoff, worst, type Claim, type Outcome } from './claim.ts';
import { effectiveWeight, leaf, loraCase, makeData, naturalScales, runMethod, type LoraCase, type LoraData, type Method, type MethodRun } from './cases.ts';
import { fromTensor, gramCondition, matmul as mmul, norm, project, scale, sub, transpose, type Mat } from './dense.ts';

const METHODS: readonly Method[] = ['lora', 'loraFA', 'loraFB'];

/** ‖a − b‖ / scaleNorm. */
const errorOn = (a: Mat, b: Mat, scaleNorm: number): number => norm(sub(a, b)) / Math.max(scaleNorm, Number.MIN_VALUE);

/** The generic engine graph y = x·W + σ·(drop(x)·A)·B with x, A, B as trainable leaves, and its gradients for dY. */
function genericGraph(data: LoraData, p: number, seed: number): { y: Mat; gradX: Mat; gradA: Mat; gradB: Mat; xDropped: Mat } {
  const { dtype, sigma } = data.c;
  const x = leaf(data.X, dtype, { requiresGrad: true });
  const A = leaf(data.A, dtype, { requiresGrad: true });
  const B = leaf(data.B, dtype, { requiresGrad: true });
  const xd = p > 0 ? dropout(x, p, { seed }) : x;
  const y = add(matmul(x, leaf(data.W, dtype)), mul(matmul(matmul(xd, A), B), sigma));
  y.backward(leaf(data.dY, dtype));
  const g = (t: Tensor) => fromTensor(t.grad!);
  return { y: fromTensor(y), gradX: g(x), gradA: g(A), gradB: g(B), xDropped: fromTensor(xd) };
}

interface BatchedCase {
  c: LoraCase;
  /** x is given as [batch, N/batch, d]. */
  batch: number;
}

/** A LoRA case whose N rows are `batch` sequences of N/batch (batch 1, 2 or 3). */
function batchedCase(dtype: LoraCase['dtype']): fc.Arbitrary<BatchedCase> {
  return fc.record({ c: loraCase(dtype), batch: fc.integer({ min: 1, max: 3 }) }).map(({ c, batch }) => ({ c: { ...c, N: c.N * batch }, batch }));
}

/**
 * An op's rightful refusal of an ill-conditioned frozen factor (a float32 case whose κ(AᵀA) or
 * κ(BBᵀ) is beyond the op's limit, which claims 1–5 check): refused, and only legitimate when κ
 * really is near the limit (the op's estimate is from below: allow 10×).
 */
function refusal(e: unknown, data: LoraData, m: Method): Outcome {
  if (!(e instanceof LorafaError) || !/condition estimate/.test(e.message) || m === 'lora') throw e;
  const kappa = gramCondition(m === 'loraFA' ? data.A : transpose(data.B));
  const legitimate = kappa > conditionLimit(data.c.dtype) / 10;
  return { error: legitimate ? 0 : Infinity, tolerance: 0, refused: true, note: `${m} refused: κ = ${kappa.toExponential(2)}; ${e.message}` };
}

/** Claim 6 for one case: forward vs the generic graph, gradX vs the Full-FT graph's, for all three ops (default corrections, batched x). */
function forwardAndInputGrad({ c, batch }: BatchedCase): Outcome {
  const data = makeData(c);
  const tol = roundoff(EPSILON[c.dtype], [c.N, c.d, c.o]);
  const s = naturalScales(data);
  const reference = genericGraph(data, 0, 0);
  const x = leaf(data.X, c.dtype, { requiresGrad: true });
  linear(x, leaf(effectiveWeight(data), c.dtype, { parameter: true })).backward(leaf(data.dY, c.dtype));
  const fullGradX = fromTensor(x.grad!);
  let refused = false;
  const outcome = worst(...METHODS.flatMap((m): Outcome[] => {
    let run: MethodRun;
    try {
      run = runMethod(data, m, { withGradX: true, batch });
    } catch (e) {
      const r = refusal(e, data, m);
      refused = true;
      return [r];
    }
    return [
      { error: errorOn(run.y, reference.y, s.y), tolerance: tol, note: `${m}: y vs x·W + σ(x·A)·B` },
      { error: errorOn(run.gradX!, fullGradX, s.gradX), tolerance: tol, note: `${m}: gradX vs the Full-FT graph` },
    ];
  }));
  return refused ? { ...outcome, refused } : outcome;
}

interface DropoutCase {
  base: LoraCase;
  p: number;
  dropoutSeed: number;
}

/** Claim 6b for one case: with dropout p, every op's y and gradients equal the generic graph's. */
function withDropout({ base: c, p, dropoutSeed }: DropoutCase): Outcome {
  const data = makeData(c);
  const tol = roundoff(EPSILON[c.dtype], [c.N, c.d, c.o]);
  const s = naturalScales(data);
  const ref = genericGraph(data, p, dropoutSeed);
  const opts = { dropout: p, seed: dropoutSeed, withGradX: true };
  const checks: Outcome[] = [];
  const compare = (what: string, a: Mat, b: Mat, scaleNorm: number, t = tol) => checks.push({ error: errorOn(a, b, scaleNorm), tolerance: t, note: what });
  for (const m of METHODS) {
    const run = runMethod(data, m, { ...opts, correction: 'none' });
    compare(`${m}: y`, run.y, ref.y, s.y);
    compare(`${m}: gradX`, run.gradX!, ref.gradX, s.gradX);
    if (run.gradA) compare(`${m}: gradA = g_A`, run.gradA, ref.gradA, s.gradA);
    if (run.gradB) compare(`${m}: gradB = g_B`, run.gradB, ref.gradB, s.gradB);
  }
  // the corrected updates are the projections of the dropped-input gradient G̃ = X̃ᵀ·dY
  const Gd = mmul(transpose(ref.xDropped), data.dY);
  const gNorm = norm(Gd);
  const fa = runMethod(data, 'loraFA', opts).gradB!;
  compare('loraFA: σ·A·gradB = P_A·X̃ᵀdY', scale(mmul(data.A, fa), c.sigma), project(data.A, Gd), gNorm, tol * gramCondition(data.A));
  const fb = runMethod(data, 'loraFB', opts).gradA!;
  const Bt = transpose(data.B);
  compare('loraFB: σ·gradA·B = X̃ᵀdY·P_B', scale(mmul(fb, data.B), c.sigma), transpose(project(Bt, transpose(Gd))), gNorm, tol * gramCondition(Bt));
  return worst(...checks);
}

export function forwardClaims(): Claim<never>[] {
  const six = (dtype: LoraCase['dtype']): Claim<BatchedCase> => ({
    id: `6 forward, gradX · ${dtype === 'float64' ? 'f64' : 'f32'}`,
    title: 'lora, loraFA, loraFB (default corrections, x [k, N/k, d]): y = x·W + σ(x·A)·B; gradX equal for all and to the Full-FT graph',
    unit: 'rel',
    arbitrary: batchedCase(dtype),
    check: forwardAndInputGrad,
    detects: dtype === 'float64' ? { grad: 1e-10, output: 1e-10 } : { grad: 1e-4, output: 1e-4 },
  });
  const dropoutClaim: Claim<DropoutCase> = {
    id: '6 with dropout · f64',
    title: 'with adapter dropout, every op matches a generic ops.dropout graph (mask regenerated in backward)',
    unit: 'rel',
    arbitrary: fc.record({
      base: loraCase('float64'),
      p: fc.double({ min: 0.05, max: 0.9, noNaN: true }),
      dropoutSeed: fc.integer({ min: 0, max: 0xffffffff }),
    }),
    check: withDropout,
    detects: { grad: 1e-10, output: 1e-10 },
  };
  return [six('float64'), six('float32'), dropoutClaim] as Claim<never>[];
}
