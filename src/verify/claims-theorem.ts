/**
 * Claim 7, Theorem 3.1 (depth collapse).
 * (a) If A* = A₀·M (same column space, M invertible r×r), the single-factor fit
 *     B′ = (A₀ᵀA₀)⁻¹A₀ᵀA*B* reproduces the update exactly: A₀·B′ = A*·B*. B′ is computed by
 *     the LoRA-FA op itself: with X = I_d and dY = σ·A*B*, Full-FT's gradient is G = σ·A*B*
 *     and LoRA-FA's corrected gradient is (1/σ)(A₀ᵀA₀)⁻¹A₀ᵀG = B′ — training B alone with A
 *     frozen at A₀ moves along exactly the update A*B*.
 * (b) If A* has i.i.d. N(0, 1) entries, E‖(I − P_{A₀})A*‖²_F = r·(d − r) for any fixed full-rank
 *     A₀: each column's residual is χ² with d − r degrees of freedom, so the sum over r columns
 *     is χ²_{r(d−r)}, and the total over S independent samples is χ²_k with k = S·r(d − r).
 *     Checked by Monte Carlo: the total's z-score must be within Z = 5. The z-score uses the
 *     Wilson–Hilferty transform, ((total/k)^(1/3) − (1 − 2/(9k))) / √(2/(9k)), which is close to
 *     N(0, 1) even for small k, where the plain (mean − r(d − r))/√(2r(d − r)/S) is skewed; a
 *     false alarm then has probability about 6·10⁻⁷ per case. The tolerance shrinks as 1/√S.
 */
import fc from 'fast-check';
import { loraFA } from '../ops.ts';
import { initFactor, randomStream } from '../lora/init.ts';
import { EPSILON, roundoff, type Claim, type Outcome } from './claim.ts';
import { gaussian, leaf, RANDOM_INITS, scaleArb, type RandomInit } from './cases.ts';
import { fromTensor, gramCondition, mat, matmul, norm, qr, scale, sub, transpose } from './dense.ts';
import { biased, perturb } from './fault.ts';

/** Z-score bound of the Monte Carlo check. */
export const Z = 5;

interface SpanCase {
  d: number;
  r: number;
  o: number;
  sigma: number;
  seed: number;
  init: RandomInit;
}

const spanCase: fc.Arbitrary<SpanCase> = fc
  .record({
    d: fc.integer({ min: 1, max: 48 }),
    o: fc.integer({ min: 1, max: 48 }),
    sigma: scaleArb,
    seed: fc.integer({ min: 0, max: 0xffffffff }),
    init: fc.constantFrom(...RANDOM_INITS),
  })
  .chain((c) => fc.integer({ min: 1, max: Math.min(c.d, c.o) }).map((r) => ({ ...c, r })));

function sameSpan(c: SpanCase): Outcome {
  const stream = randomStream('theorem', c.seed);
  const A0 = mat(c.d, c.r, initFactor('theorem', c.init, c.d, c.r, 'columns', stream));
  const M = gaussian(stream, c.r, c.r, 1, 'float64');
  const Bstar = gaussian(stream, c.r, c.o, 1, 'float64');
  const target = matmul(matmul(A0, M), Bstar); // A*·B* with A* = A₀·M
  // LoRA-FA on X = I_d, dY = σ·A*B*: its corrected gradB is B′
  const x = leaf(mat(c.d, c.d, Float64Array.from({ length: c.d * c.d }, (_, i) => (i % (c.d + 1) === 0 ? 1 : 0))), 'float64');
  const B = leaf(mat(c.r, c.o), 'float64', { requiresGrad: true, parameter: true });
  const y = loraFA(x, leaf(mat(c.d, c.o), 'float64', { parameter: true }), leaf(A0, 'float64', { parameter: true }), B, { scale: c.sigma });
  y.backward(leaf(scale(target, c.sigma), 'float64'));
  // natural scale of the projected gradient: ‖X‖‖dY‖/(|σ|‖A₀‖) with X = I_d, dY = σ·A*B*
  const Bprime = perturb('grad', fromTensor(B.grad!), (Math.sqrt(c.d) * norm(target)) / norm(A0));
  const kappa = gramCondition(A0);
  return {
    error: norm(sub(matmul(A0, Bprime), target)) / Math.max(norm(target), Number.MIN_VALUE),
    tolerance: roundoff(EPSILON.float64, [c.d, c.o], kappa),
    note: `κ(A₀ᵀA₀) = ${kappa.toExponential(2)}`,
  };
}

interface ResidualCase {
  d: number;
  r: number;
  samples: number;
  seed: number;
  init: RandomInit;
}

const residualCase: fc.Arbitrary<ResidualCase> = fc
  .record({
    d: fc.integer({ min: 1, max: 48 }),
    samples: fc.integer({ min: 32, max: 256 }),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
    init: fc.constantFrom(...RANDOM_INITS),
  })
  .chain((c) => fc.integer({ min: 1, max: c.d }).map((r) => ({ ...c, r })));

function expectedResidual(c: ResidualCase): Outcome {
  const stream = randomStream('theorem', c.seed);
  const { Q } = qr(mat(c.d, c.r, initFactor('theorem', c.init, c.d, c.r, 'columns', stream)));
  const Qt = transpose(Q);
  let total = 0;
  for (let s = 0; s < c.samples; s++) {
    const Astar = gaussian(stream, c.d, c.r, 1, 'float64');
    total += biased(norm(sub(Astar, matmul(Q, matmul(Qt, Astar)))) ** 2); // ‖(I − P_A₀)A*‖²_F
  }
  const mean = total / c.samples, expected = c.r * (c.d - c.r), k = c.samples * expected;
  const note = `mean ${mean.toFixed(3)} vs r(d − r) = ${expected} over ${c.samples} samples`;
  if (k === 0) return { error: mean, tolerance: roundoff(EPSILON.float64, [c.r * c.d]) ** 2, note }; // d = r: P = I, only rounding is left
  const z = (Math.cbrt(total / k) - (1 - 2 / (9 * k))) / Math.sqrt(2 / (9 * k));
  return { error: Math.abs(z), tolerance: Z, note: `${note} (z = ${z.toFixed(2)})` };
}

export function theoremClaims(): Claim<never>[] {
  const a: Claim<SpanCase> = {
    id: '7 same span ⇒ exact · f64',
    title: "A* = A₀M ⇒ A₀B′ = A*B*, with B′ LoRA-FA's corrected gradient for G = σA*B*",
    unit: 'rel',
    arbitrary: spanCase,
    check: sameSpan,
    detects: { grad: 1e-10 },
  };
  const b: Claim<ResidualCase> = {
    id: '7 E‖(I − P)A*‖² = r(d − r)',
    title: `Monte Carlo over S samples: the sum, χ² with S·r(d − r) degrees of freedom, within ${Z} standard errors`,
    unit: 'z',
    arbitrary: residualCase,
    check: expectedResidual,
    detects: { sample: 0.05 },
  };
  return [a, b] as Claim<never>[];
}
