/**
 * Claim 6c: every combination of which of x, W, A, B needs a gradient (2⁴ = 16 per op).
 *   ops.lora    accepts all 16: each gradient that is needed equals the generic graph's
 *               x·W + σ·(drop(x)·A)·B (gradX, gradW = Xᵀ·dY, g_A, g_B), and none other is produced;
 *   ops.loraFA  accepts the 4 with A and W frozen: gradX as above, gradB = (1/σ²)(AᵀA)⁻¹·g_B;
 *   ops.loraFB  accepts the 4 with B and W frozen: gradX as above, gradA = (1/σ²)·g_A·(BBᵀ)⁻¹;
 * and each of the other 12 of loraFA and loraFB is refused with a LorafaError that names the op and
 * the tensor that must be frozen. With no gradient needed the op records nothing (y needs none).
 * References: the engine's generic autograd graph (matmul, mul, add, dropout) and, for the
 * projected factor, (UᵀU)⁻¹ through a QR of U (dense.ts), never the ops' Cholesky.
 */
import fc from 'fast-check';
import { add, mul } from '../autograd/ops/elementwise.ts';
import { matmul } from '../autograd/ops/matmul.ts';
import { dropout } from '../autograd/ops/nn.ts';
import { LorafaError } from '../errors.ts';
import { lora, loraFA, loraFB } from '../ops.ts';
import type { Tensor } from '../tensor.ts';
import { EPSILON, roundoff, worst, type Claim, type Outcome } from './claim.ts';
import { leaf, loraCase, makeData, naturalScales, type LoraCase, type LoraData, type Method } from './cases.ts';
import { fromTensor, gramCondition, norm, scale, solveGram, sub, transpose, type Mat } from './dense.ts';
import { perturb } from './fault.ts';

const NAMES = ['x', 'W', 'A', 'B'] as const;
type Name = (typeof NAMES)[number];

/** Which inputs each op requires to be frozen. */
const FROZEN: Record<Method, readonly Name[]> = { lora: [], loraFA: ['W', 'A'], loraFB: ['W', 'B'] };

interface ComboCase {
  c: LoraCase;
  method: Method;
  /** Bit i set: input NAMES[i] requires grad. */
  mask: number;
  p: number;
}

const needs = (mask: number, name: Name) => (mask & (1 << NAMES.indexOf(name))) !== 0;

/** The generic graph with all four inputs trainable; its y and gradients for dY. */
function reference(data: LoraData, p: number): Record<'y' | Name, Mat> {
  const { dtype, sigma } = data.c;
  const [x, W, A, B] = [data.X, data.W, data.A, data.B].map((m) => leaf(m, dtype, { requiresGrad: true })) as [Tensor, Tensor, Tensor, Tensor];
  const y = add(matmul(x, W), mul(matmul(matmul(dropout(x, p, { seed: 5 }), A), B), sigma));
  y.backward(leaf(data.dY, dtype));
  return { y: fromTensor(y), x: fromTensor(x.grad!), W: fromTensor(W.grad!), A: fromTensor(A.grad!), B: fromTensor(B.grad!) };
}

function check({ c, method, mask, p }: ComboCase): Outcome {
  const data = makeData(c);
  const trained = NAMES.filter((n) => needs(mask, n));
  const refusedBy = FROZEN[method].filter((n) => trained.includes(n));
  const mats = { x: data.X, W: data.W, A: data.A, B: data.B };
  const t = Object.fromEntries(NAMES.map((n) => [n, leaf(mats[n], c.dtype, { parameter: n !== 'x', requiresGrad: needs(mask, n) })])) as Record<Name, Tensor>;
  const op = { lora, loraFA, loraFB }[method];
  const what = `${method} with ${trained.join(', ') || 'nothing'} requiring grad`;
  let y: Tensor;
  try {
    y = op(t.x, t.W, t.A, t.B, { scale: c.sigma, dropout: p, seed: 5 });
  } catch (e) {
    const clear = e instanceof LorafaError && refusedBy.some((n) => e.message.startsWith(`${method}: ${n} [`)) && e.message.includes('requires grad');
    return { error: clear ? 0 : Infinity, tolerance: 0, note: `${what}: ${clear ? 'refused' : `threw ${String(e)}`}` };
  }
  if (refusedBy.length) return { error: Infinity, tolerance: 0, note: `${what}: accepted, but ${method} keeps ${refusedBy.join(' and ')} frozen` };
  const ref = reference(data, p);
  const s = naturalScales(data);
  const tol = roundoff(EPSILON[c.dtype], [c.N, c.d, c.o]);
  const rel = (got: Mat, want: Mat, natural: number, tolerance: number, note: string): Outcome =>
    ({ error: norm(sub(got, want)) / Math.max(norm(want), natural, Number.MIN_VALUE), tolerance, note: `${what}: ${note}` });
  const outcomes: Outcome[] = [rel(perturb('output', fromTensor(y), s.y), ref.y, s.y, tol, 'y')];
  if (y.requiresGrad !== trained.length > 0) outcomes.push({ error: Infinity, tolerance: 0, note: `${what}: y.requiresGrad is ${y.requiresGrad}` });
  if (trained.length > 0) y.backward(leaf(data.dY, c.dtype));
  const natural: Record<Name, number> = { x: s.gradX, W: norm(data.X) * norm(data.dY), A: s.gradA, B: s.gradB };
  for (const n of NAMES) {
    const g = t[n].grad;
    if (!needs(mask, n) || !g) {
      if (needs(mask, n) !== Boolean(g)) outcomes.push({ error: Infinity, tolerance: 0, note: `${what}: ${n}.grad is ${g ? 'set' : 'missing'}` });
      continue;
    }
    // the projected factor: (1/σ²)(UᵀU)⁻¹·g with U = A (gradB) or Bᵀ (gradAᵀ)
    const projected = (method === 'loraFA' && n === 'B') || (method === 'loraFB' && n === 'A');
    const U = n === 'B' ? data.A : transpose(data.B);
    const want = !projected ? ref[n]
      : n === 'B' ? scale(solveGram(U, ref.B), 1 / c.sigma ** 2) : transpose(scale(solveGram(U, transpose(ref.A)), 1 / c.sigma ** 2));
    const nat = projected ? (n === 'B' ? s.projectedB : s.projectedA) : natural[n];
    outcomes.push(rel(perturb('grad', fromTensor(g), nat), want, nat, projected ? roundoff(EPSILON[c.dtype], [c.N, c.d, c.o], gramCondition(U)) : tol, `grad${n}`));
  }
  return worst(...outcomes);
}

export function comboClaims(): Claim<never>[] {
  const claim: Claim<ComboCase> = {
    id: '6 requires-grad combinations · f64',
    title: 'lora: all 16 of (x, W, A, B) needing grad give the generic graph\'s gradients; loraFA, loraFB: the 4 they allow (projected factor), the other 12 refused naming the tensor',
    unit: 'rel',
    arbitrary: fc.record({
      c: loraCase('float64'),
      method: fc.constantFrom<Method>('lora', 'loraFA', 'loraFB'),
      mask: fc.integer({ min: 0, max: 15 }),
      p: fc.constantFrom(0, 0.3),
    }),
    check,
    detects: { grad: 1e-10, output: 1e-10 },
  };
  return [claim] as Claim<never>[];
}
