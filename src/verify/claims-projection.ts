/**
 * Claims 1–5 and 9: the corrected gradient of LoRA-FA (Theorem 4.1) and LoRA-FB (Theorem A.1).
 *
 * Both are one statement about a tall matrix U [n, r] and a gradient G [n, m]:
 *   g̃ = argmin_g ‖σ·U·g − G‖_F = (1/σ²)(UᵀU)⁻¹·g_plain,   g_plain = σ·Uᵀ·G
 * LoRA-FA: U = A, G as is, g̃ = gradB.  LoRA-FB (acting from the right): U = Bᵀ, G → Gᵀ,
 * g̃ = gradAᵀ — since ‖σ·g·B − G‖ = ‖σ·Bᵀ·gᵀ − Gᵀ‖. So one set of checks serves both sides.
 *
 * Tolerances (claim.ts roundoff): least squares through the normal equations loses up to
 * κ(UᵀU) in relative accuracy, so a check that involves the corrected gradient allows
 * TOL·ε·κ(UᵀU)·√(n + m + N) (κ from an SVD of U), and one that does not TOL·ε·√(n + m + N).
 */
import { conditionLimit } from '../lora/gram.ts';
import { LorafaError } from '../errors.ts';
import { randomStream } from '../lora/init.ts';
import { EPSILON, roundoff, TOL, worst, type Claim, type Outcome } from './claim.ts';
import { effectiveWeight, fullGradient, gaussian, loraCase, runMethod, type LoraCase, type LoraData, type RandomInit, makeData } from './cases.ts';
import { combine, dot, gramCondition, lstsq, matmul, norm, project, relError, scale, solveGram, sub, transpose, type Mat } from './dense.ts';

export type Side = 'FA' | 'FB';

export interface Problem {
  data: LoraData;
  side: Side;
  U: Mat; //      [n, r]
  G: Mat; //      [n, m]
  gTilde: Mat; // [r, m], from the op with correction 'closed-form'
  gNone: Mat; //  [r, m], from the op with correction 'none'
  gPlain: Mat; // [r, m], from ops.lora (the LoRA chain rule)
  sigma: number;
  kappa: number;
  eps: number;
}

/** The hatted view of a LoRA-FA (side 'FA') or LoRA-FB (side 'FB') gradient problem (or the op's rightful refusal). */
export function problem(data: LoraData, side: Side): Problem | { refused: Outcome } {
  const method = side === 'FA' ? 'loraFA' : 'loraFB';
  const pick = (run: ReturnType<typeof runMethod>) => (side === 'FA' ? run.gradB! : transpose(run.gradA!));
  const U = side === 'FA' ? data.A : transpose(data.B);
  const kappa = gramCondition(U);
  let gTilde: Mat;
  try {
    gTilde = pick(runMethod(data, method));
  } catch (e) {
    // refusing an ill-conditioned U is correct when κ really is beyond the dtype's limit
    // (the op's κ is an estimate from below: allow it to be 10× low)
    if (!(e instanceof LorafaError) || !/condition estimate/.test(e.message)) throw e;
    const legitimate = kappa > conditionLimit(data.c.dtype) / 10;
    return { refused: { error: legitimate ? 0 : Infinity, tolerance: 0, refused: true, note: `κ(UᵀU) = ${kappa.toExponential(2)}; ${e.message}` } };
  }
  const G = fullGradient(data);
  return {
    data, side, U, gTilde, kappa,
    G: side === 'FA' ? G : transpose(G),
    gNone: pick(runMethod(data, method, { correction: 'none' })),
    gPlain: pick(runMethod(data, 'lora')),
    sigma: data.c.sigma,
    eps: EPSILON[data.c.dtype],
  };
}

const dims = (p: Problem) => [p.U.rows, p.G.cols, p.data.c.N];
const plainTol = (p: Problem) => roundoff(p.eps, dims(p));
const solveTol = (p: Problem) => roundoff(p.eps, dims(p), p.kappa);

/**
 * ‖a − b‖ relative to the larger of ‖b‖ and the scale the problem gives a gradient of the
 * trained factor, ‖G‖/(σ‖U‖): when U is nearly orthogonal to G, b is tiny and a plain relative
 * error would measure the cancellation in UᵀG, not the op.
 */
function gradError(p: Problem, a: Mat, b: Mat): number {
  const natural = norm(p.G) / (Math.abs(p.sigma) * Math.max(norm(p.U), Number.MIN_VALUE));
  return norm(sub(a, b)) / Math.max(norm(b), natural, Number.MIN_VALUE);
}

/** Claim 1: g̃ = (1/σ)(UᵀU)⁻¹UᵀG = (1/σ²)(UᵀU)⁻¹g_plain; without correction the op gives g_plain = σUᵀG. */
export function closedForm(p: Problem): Outcome {
  const lsq = lstsq(scale(p.U, p.sigma), p.G); // argmin ‖σUg − G‖ by QR
  const fromChainRule = scale(solveGram(p.U, p.gPlain), 1 / p.sigma ** 2);
  const chainRule = scale(matmul(transpose(p.U), p.G), p.sigma);
  const plainScale = Math.abs(p.sigma) * norm(p.U) * norm(p.G);
  return worst(
    { error: gradError(p, p.gTilde, lsq), tolerance: solveTol(p), note: 'op g̃ vs least squares' },
    { error: gradError(p, fromChainRule, lsq), tolerance: solveTol(p), note: '(1/σ²)(UᵀU)⁻¹g_plain vs least squares' },
    { error: norm(sub(p.gPlain, chainRule)) / Math.max(plainScale, Number.MIN_VALUE), tolerance: plainTol(p), note: 'LoRA g vs σUᵀG' },
    { error: relError(p.gNone, p.gPlain), tolerance: plainTol(p), note: "correction 'none' vs LoRA's gradient" },
  );
}

/** Claim 2: σ·U·g̃ = P_U·G, and Uᵀ(G − σ·U·g̃) = 0. */
export function projection(p: Problem): Outcome {
  const update = scale(matmul(p.U, p.gTilde), p.sigma);
  const residual = sub(p.G, update);
  const g = Math.max(norm(p.G), Number.MIN_VALUE);
  return worst(
    { error: norm(sub(update, project(p.U, p.G))) / g, tolerance: solveTol(p), note: '‖σUg̃ − P_U G‖/‖G‖' },
    { error: norm(matmul(transpose(p.U), residual)) / (norm(p.U) * g), tolerance: solveTol(p), note: '‖Uᵀ(G − σUg̃)‖/(‖U‖‖G‖)' },
  );
}

/**
 * Claim 3: ‖σU(g̃ ± E) − G‖ ≥ ‖σU·g̃ − G‖ for random perturbations E of sizes 10⁻³..1 relative
 * to g̃. Both signs: if g̃ were not the minimiser, the first-order term 2⟨σUE, σUg̃ − G⟩ would be
 * non-zero, and one of ±E (the small ones) would lower the objective.
 */
export function optimality(p: Problem): Outcome {
  const f = (g: Mat) => norm(sub(scale(matmul(p.U, g), p.sigma), p.G)) ** 2;
  const base = f(p.gTilde);
  const g2 = Math.max(norm(p.G) ** 2, Number.MIN_VALUE);
  const stream = randomStream('optimality', (p.data.c.seed ^ 0x0b7) >>> 0);
  const outcomes = [1e-3, 1e-2, 1e-1, 1].flatMap((size): Outcome[] => {
    const E = gaussian(stream, p.gTilde.rows, p.gTilde.cols, 1, 'float64');
    const step = (size * Math.max(norm(p.gTilde), 1e-300)) / Math.max(norm(E), 1e-300);
    return [step, -step].map((s) => {
      const shortfall = (base - f(combine(p.gTilde, 1, E, s))) / g2; // > 0 would contradict optimality
      return { error: Math.max(0, shortfall), tolerance: solveTol(p), note: `‖E‖ = ${s < 0 ? '−' : ''}${size}·‖g̃‖` };
    });
  });
  return worst(...outcomes);
}

/**
 * Claim 4: ⟨g_plain, g̃⟩ = ‖P_U G‖² ≥ 0; and one SGD step on a random quadratic loss
 * L = ½‖Y − T‖² with η = 1/‖X‖_F² decreases it by between ½ and 1 times η‖P G‖² (first
 * order: −η‖P G‖²; the second-order term is at most half of it for this η).
 */
export function descent(p: Problem): Outcome {
  const PG = project(p.U, p.G);
  const g2 = Math.max(norm(p.G) ** 2, Number.MIN_VALUE);
  const inner = dot(p.gPlain, p.gTilde);
  return worst(
    { error: Math.abs(inner - norm(PG) ** 2) / g2, tolerance: solveTol(p), note: '⟨g, g̃⟩ vs ‖P G‖²' },
    { error: Math.max(0, -inner) / g2, tolerance: solveTol(p), note: '⟨g, g̃⟩ ≥ 0' },
    sgdStep(p),
  );
}

/** The loss ½‖X·W_eff − T‖² in float64 on the host. */
function quadraticLoss(X: Mat, Weff: Mat, T: Mat): number {
  return norm(sub(matmul(X, Weff), T)) ** 2 / 2;
}

function sgdStep(p: Problem): Outcome {
  const { data, side } = p;
  const { c } = data;
  const T = gaussian(randomStream('sgd', (c.seed ^ 0x5a5) >>> 0), c.N, c.o, 1, c.dtype);
  // upstream gradient of L at the current weights: dY = Y − T
  const dY = sub(matmul(data.X, effectiveWeight(data)), T);
  const quad: LoraData = { ...data, dY };
  const run = runMethod(quad, side === 'FA' ? 'loraFA' : 'loraFB');
  const G = fullGradient(quad);
  const PG2 = norm(side === 'FA' ? project(data.A, G) : project(transpose(data.B), transpose(G))) ** 2;
  const eta = 1 / Math.max(norm(data.X) ** 2, Number.MIN_VALUE);
  const stepped: LoraData = side === 'FA'
    ? { ...data, B: combine(data.B, 1, run.gradB!, -eta) }
    : { ...data, A: combine(data.A, 1, run.gradA!, -eta) };
  const before = quadraticLoss(data.X, effectiveWeight({ ...data, c: { ...c, dtype: 'float64' } }), T);
  const after = quadraticLoss(data.X, effectiveWeight({ ...stepped, c: { ...c, dtype: 'float64' } }), T);
  const drop = before - after, first = eta * PG2;
  // measured on the scale of a full step, η‖G‖²; the losses are differenced in float64
  const unit = Math.max(eta * norm(G) ** 2, Number.MIN_VALUE);
  const tolerance = solveTol(p) + (TOL * EPSILON.float64 * before) / unit;
  return { error: Math.max(0, first / 2 - drop, drop - first) / unit, tolerance, note: `SGD step: L − L′ = ${drop}, η‖P G‖² = ${first}` };
}

type Check = (p: Problem) => Outcome;

/** A claim that builds the problem of a case for `side` and applies the checks (worst outcome). */
function projectionClaim(id: string, title: string, side: Side, dtype: LoraCase['dtype'], checks: Check[], init?: RandomInit): Claim<LoraCase> {
  // a zeroth-order optimality check sees a gradient off by δ only through the O(δ²) rise of the objective
  const secondOrder = checks.length === 1 && checks[0] === optimality;
  return {
    id,
    title,
    unit: 'rel',
    detects: { grad: dtype === 'float64' ? (secondOrder ? 1e-4 : 1e-10) : (secondOrder ? 1e-1 : 1e-4) },
    arbitrary: loraCase(dtype, init ?? 'gaussian'),
    check(c) {
      const p = problem(makeData(c), side);
      return 'refused' in p ? p.refused : worst(...checks.map((f) => f(p)));
    },
  };
}

const tag = (dtype: LoraCase['dtype']) => (dtype === 'float64' ? 'f64' : 'f32');

/** Claims 1–4 (LoRA-FA) and 5 (the same four for LoRA-FB) in one dtype. */
export function projectionClaims(dtype: LoraCase['dtype']): Claim<LoraCase>[] {
  const t = tag(dtype);
  return [
    projectionClaim(`1 closed form · ${t}`, 'LoRA-FA gradB = (1/σ)(AᵀA)⁻¹AᵀG = (1/σ²)(AᵀA)⁻¹g_B; uncorrected = σAᵀG = LoRA g_B', 'FA', dtype, [closedForm]),
    projectionClaim(`2 projection · ${t}`, 'σ·A·gradB = P_A·G and Aᵀ(G − σA·gradB) = 0', 'FA', dtype, [projection]),
    projectionClaim(`3 optimality · ${t}`, '‖σA(gradB ± E) − G‖ ≥ ‖σA·gradB − G‖ for random E of sizes 10⁻³..1', 'FA', dtype, [optimality]),
    projectionClaim(`4 descent · ${t}`, '⟨g_B, g̃_B⟩ = ‖P_A G‖² ≥ 0; an SGD step lowers a quadratic loss', 'FA', dtype, [descent]),
    projectionClaim(`5 LoRA-FB 1–4 · ${t}`, 'the same four for gradA, from the right: σ·gradA·B = G·P_B', 'FB', dtype, [closedForm, projection, optimality, descent]),
  ];
}

/** Claim 9: claims 1–4 hold whatever the (full-rank) init of A, in float64 and float32. */
export function initClaims(): Claim<LoraCase>[] {
  return (['gaussian', 'uniform', 'orthogonal'] as const).flatMap((init) => (['float64', 'float32'] as const).map((dtype) =>
    projectionClaim(`9 init ${init} · ${tag(dtype)}`, `claims 1–4 with A drawn ${init}`, 'FA', dtype, [closedForm, projection, optimality, descent], init)));
}
