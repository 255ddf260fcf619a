/**
 * ops.lora, ops.loraFA and ops.loraFB over all 16 combinations of which of x, W, A, B need a
 * gradient, σ of both signs and tiny, with and without dropout: every gradient the op produces is
 * gradchecked (float64 central differences) — the projected factor of LoRA-FA / LoRA-FB through its
 * closed form (1/σ²)(UᵀU)⁻¹·(true gradient) — inputs that need none get none, and the combinations
 * an op does not allow (a trained A or W for LoRA-FA, a trained B or W for LoRA-FB) are refused
 * with a LorafaError naming the op and the tensor.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradcheck, LorafaError, ops, randn, type Tensor } from '../../src/index.ts';
import { seed } from '../helpers/arbitraries.ts';
import { expectClose } from '../helpers/allclose.ts';
import { GRAD_TOL } from '../helpers/check-op.ts';
import { gaussJordan } from '../helpers/reference.ts';
import { scaleArb } from '../../src/verify/cases.ts';

const NAMES = ['x', 'W', 'A', 'B'] as const;
type Name = (typeof NAMES)[number];
const OPS = { lora: ops.lora, loraFA: ops.loraFA, loraFB: ops.loraFB } as const;
type Op = keyof typeof OPS;
const FROZEN: Record<Op, readonly Name[]> = { lora: [], loraFA: ['A', 'W'], loraFB: ['B', 'W'] };
const f64 = { dtype: 'float64' as const };

/** σ: both signs, ordinary and tiny (down to 2⁻³⁰), and the boundary cases. */
const sigma = fc.oneof(scaleArb, fc.constantFrom(1, -1, 2 ** -30, -(2 ** -30)));
const combos = (m: number) => NAMES.filter((_, i) => m & (1 << i));

function inputs(N: number, d: number, o: number, r: number, s: number, trained: readonly Name[]): Record<Name, Tensor> {
  const make = (name: Name, shape: number[], k: number) =>
    randn(shape, { ...f64, seed: s + k, parameter: name !== 'x', requiresGrad: trained.includes(name) });
  return { x: make('x', [2, N, d], 0), W: make('W', [d, o], 1), A: make('A', [d, r], 2), B: make('B', [r, o], 3) };
}

describe.each(Object.keys(OPS) as Op[])('%s over the 16 requires-grad combinations of (x, W, A, B)', (op) => {
  for (let mask = 0; mask < 16; mask++) {
    const trained = combos(mask);
    const refused = FROZEN[op].filter((n) => trained.includes(n));
    it(`${trained.join(', ') || 'nothing'} requiring grad: ${refused.length ? `refused (${refused.join(', ')} must be frozen)` : 'gradchecked'}`, () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), seed, sigma, fc.constantFrom(0, 0.4),
        (N, d, o, s, scale, dropout) => {
          const r = Math.min(d, o);
          const t = inputs(N, d, o, r, s, trained);
          const run = (options: { correction?: 'none' }) => (x: Tensor, W: Tensor, A: Tensor, B: Tensor) =>
            OPS[op](x, W, A, B, { scale, dropout, seed: 9, ...options });
          if (refused.length) {
            let error: unknown;
            try {
              run({})(t.x, t.W, t.A, t.B);
            } catch (e) {
              error = e;
            }
            expect(error).toBeInstanceOf(LorafaError);
            expect((error as Error).message).toMatch(new RegExp(`^${op}: (${refused.join('|')}) \\[.*requires grad, but`));
            return;
          }
          const all = [t.x, t.W, t.A, t.B];
          const y = run({})(t.x, t.W, t.A, t.B);
          expect(y.requiresGrad).toBe(trained.length > 0);
          if (trained.length === 0) return;
          // every produced gradient is the true one (the plain gradient of the projected factor)
          const check = gradcheck(run({ correction: 'none' }), all, GRAD_TOL);
          expect(check.ok, JSON.stringify(check.worst)).toBe(true);
          const truth = Object.fromEntries(NAMES.map((n) => [n, t[n].grad?.dataSync() ?? null]));
          for (const n of NAMES) expect(truth[n] !== null, `${n}.grad`).toBe(trained.includes(n));
          if (op === 'lora') return;
          // the default correction: only the trained factor changes, to (1/σ²)(AᵀA)⁻¹·g_B or (1/σ²)·g_A·(BBᵀ)⁻¹
          for (const n of NAMES) t[n].grad = null;
          y.backward(randn(y.shape, { ...f64, seed: s + 7 }));
          const dY = randn(y.shape, { ...f64, seed: s + 7 });
          const corrected = Object.fromEntries(NAMES.map((n) => [n, t[n].grad?.dataSync() ?? null]));
          for (const n of NAMES) t[n].grad = null;
          run({ correction: 'none' })(t.x, t.W, t.A, t.B).backward(dY);
          const factor = op === 'loraFA' ? 'B' : 'A';
          if (trained.includes('x')) expectClose(corrected.x!, t.x.grad!.dataSync(), { atol: 0, rtol: 0 });
          if (!trained.includes(factor)) return;
          const plain = t[factor].grad!.dataSync();
          const U = op === 'loraFA' ? t.A : ops.transpose(t.B, 0, 1); // [d, r] or Bᵀ [o, r]
          const gram = ops.matmul(U, U, { transA: true }).dataSync(); //  UᵀU [r, r]
          const cols = op === 'loraFA' ? o : d;
          const rhs = op === 'loraFA' ? Array.from(plain) : transpose(plain, d, r); // [r, cols]
          const solved = gaussJordan(Array.from(gram), r, rhs, cols).map((v) => v / scale ** 2);
          expectClose(corrected[factor]!, op === 'loraFA' ? solved : transpose(solved, r, d), { atol: 1e-9 * Math.max(...solved.map(Math.abs)), rtol: 1e-8 });
        }), { numRuns: 4 });
    });
  }
});

/** The [cols, rows] transpose of a row-major [rows, cols] array. */
function transpose(a: ArrayLike<number>, rows: number, cols: number): number[] {
  return Array.from({ length: rows * cols }, (_, k) => a[(k % rows) * cols + Math.floor(k / rows)]!);
}
