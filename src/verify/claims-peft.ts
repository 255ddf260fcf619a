/**
 * Claims 11–13 (docs/math.md): the PEFT methods LoRA-FA is compared with.
 *   11  LoRA-Pro: σ·(A·g̃_B + g̃_A·B) = P_A·G + G·P_B − P_A·G·P_B (projections by QR here, not the
 *       op's Cholesky), and ‖G − ΔW_Pro‖ ≤ min(‖G − ΔW_LoRA-FA‖, ‖G − ΔW_LoRA-FB‖).
 *   12  PiSSA: at init the adapted layer computes the base layer's output to float64 rounding, and
 *       the residual W − σ·A·B has W's singular values from r + 1 on (σ·A·B = [W]_r).
 *   13  Appendix E.3: with PiSSA's A, a gradient whose columns lie in col(A)^⊥ gets no LoRA-FA
 *       update at all (σ·A·g̃_B = 0), while a gaussian A of the same rank moves it.
 */
import { Linear } from '../nn/linear.ts';
import { LorafaError } from '../errors.ts';
import { LoraLinear } from '../lora/layers.ts';
import { loraPro } from '../lora/lora-pro.ts';
import { pissaFactors } from '../lora/svd-init.ts';
import { conditionLimit } from '../lora/gram.ts';
import { noGrad } from '../autograd/grad-mode.ts';
import { EPSILON, roundoff, worst, type Claim, type Outcome } from './claim.ts';
import { fullGradient, leaf, loraCase, makeData, runMethod, type LoraCase, type LoraData } from './cases.ts';
import { combine, fromTensor, gramCondition, matmul, mat, norm, project, scale, singularValues, sub, transpose, type Mat } from './dense.ts';

const EPS = EPSILON.float64;

/** G·P_B for B [r, o]: the projection of G's rows onto B's row space, (P_{Bᵀ}·Gᵀ)ᵀ. */
const right = (G: Mat, B: Mat): Mat => transpose(project(transpose(B), transpose(G)));

/** σ·A·gradB + σ·gradA·B from ops.loraPro on the case, or the op's rightful refusal of an ill-conditioned A or B. */
function proUpdate(data: LoraData, kappa: number): Mat | Outcome {
  const { sigma } = data.c;
  const [A, B] = [leaf(data.A, 'float64', { parameter: true, requiresGrad: true }), leaf(data.B, 'float64', { parameter: true, requiresGrad: true })];
  try {
    loraPro(leaf(data.X, 'float64'), leaf(data.W, 'float64', { parameter: true }), A, B, { scale: sigma }).backward(leaf(data.dY, 'float64'));
  } catch (e) {
    if (!(e instanceof LorafaError) || !/condition estimate/.test(e.message)) throw e;
    return { error: kappa > conditionLimit('float64') / 10 ? 0 : Infinity, tolerance: 0, refused: true, note: e.message };
  }
  return scale(combine(matmul(data.A, fromTensor(B.grad!)), 1, matmul(fromTensor(A.grad!), data.B), 1), sigma);
}

function loraProCheck(c: LoraCase): Outcome {
  const data = makeData(c);
  const kappa = Math.max(gramCondition(data.A), gramCondition(transpose(data.B)));
  const update = proUpdate(data, kappa);
  if (!('rows' in update)) return update;
  const G = fullGradient(data);
  const PAG = project(data.A, G), GPB = right(G, data.B);
  const projection = combine(combine(PAG, 1, GPB, 1), 1, project(data.A, GPB), -1);
  const g = Math.max(norm(G), Number.MIN_VALUE);
  const tol = roundoff(EPS, [c.d, c.o, c.r, c.N], kappa);
  const pro = norm(sub(G, update)), fa = norm(sub(G, PAG)), fb = norm(sub(G, GPB));
  return worst(
    { error: norm(sub(update, projection)) / g, tolerance: tol, note: '‖σ(A·g̃_B + g̃_A·B) − (P_A·G + G·P_B − P_A·G·P_B)‖/‖G‖' },
    { error: Math.max(0, pro - Math.min(fa, fb)) / g, tolerance: tol, note: `‖G − ΔW_Pro‖ = ${pro} vs LoRA-FA ${fa}, LoRA-FB ${fb}` },
  );
}

/** A frozen Linear holding the case's W (no bias), and a LoRA layer with PiSSA's init on a copy of it. */
function pissaCheck(c: LoraCase): Outcome {
  const data = makeData(c);
  const base = new Linear(c.d, c.o, { dtype: 'float64', bias: false });
  noGrad(() => base.weight.assign(leaf(data.W, 'float64')));
  const x = leaf(data.X, 'float64');
  const before = fromTensor(noGrad(() => base.forward(x)));
  const layer = new LoraLinear(base, { rank: c.r, alpha: c.sigma * c.r, svdInit: 'pissa' });
  const after = fromTensor(noGrad(() => layer.forward(x)));
  const sW = singularValues(c.d >= c.o ? data.W : transpose(data.W));
  const residual = fromTensor(layer.base.weight);
  const sRes = singularValues(c.d >= c.o ? residual : transpose(residual));
  const tail = mat(1, sW.length - c.r, Float64Array.from(sW.slice(c.r)));
  const resTail = mat(1, sW.length - c.r, Float64Array.from(sRes.slice(0, sW.length - c.r)));
  const tol = roundoff(EPS, [c.d, c.o, c.r, c.N]);
  layer.dispose();
  return worst(
    { error: norm(sub(after, before)) / Math.max(norm(data.X) * norm(data.W), Number.MIN_VALUE), tolerance: tol, note: '‖X·W_res + σ(XA)B − X·W‖/(‖X‖‖W‖)' },
    { error: norm(sub(resTail, tail)) / Math.max(sW[0] ?? 0, Number.MIN_VALUE), tolerance: tol, note: 'singular values of W − σAB vs s_{r+1}, …' },
  );
}

/** With X = I (N = d), G = dY: a G with columns in col(A)^⊥ is chosen directly as (I − P_A)·H. */
function blindSpotCheck(c: LoraCase): Outcome {
  const data = makeData({ ...c, N: c.d });
  const { d, o, r, sigma } = c;
  const pissa = pissaFactors('verify', data.W.data, d, o, r, sigma);
  const Ap = mat(d, r, pissa.A);
  const G = sub(data.dY, project(Ap, data.dY)); // dY [d, o]; A_PiSSAᵀ·G = 0
  const identity = mat(d, d, Float64Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0)));
  const withA = (A: Mat) => runMethod({ ...data, X: identity, A, dY: G }, 'loraFA').gradB!;
  const g = Math.max(norm(G), Number.MIN_VALUE);
  const blind = norm(scale(matmul(Ap, withA(Ap)), sigma)) / g;
  const tol = roundoff(EPS, [d, o, r], gramCondition(Ap));
  // a gaussian A of the same rank sees it: σ·A·g̃_B = P_A·G ≠ 0
  const seen = norm(scale(matmul(data.A, withA(data.A)), sigma)) / g;
  return worst(
    { error: blind, tolerance: tol, note: `‖σ·A_PiSSA·g̃_B‖/‖G‖ with A_PiSSAᵀ·G = 0 (r = ${r}, d = ${d})` },
    { error: seen > 1e-6 ? 0 : Infinity, tolerance: 0, note: `a gaussian A moves the same G: ‖P_A·G‖/‖G‖ = ${seen}` },
  );
}

export function peftClaims(): Claim<never>[] {
  const claims: Claim<LoraCase>[] = [
    { id: '11 LoRA-Pro · f64', title: 'σ(A·g̃_B + g̃_A·B) = P_A·G + G·P_B − P_A·G·P_B; ‖G − ΔW_Pro‖ ≤ min(LoRA-FA, LoRA-FB)', unit: 'rel', arbitrary: loraCase('float64'), check: loraProCheck },
    { id: '12 PiSSA init · f64', title: 'at init X·(W − σAB) + σ(XA)B = X·W; W − σAB keeps s_{r+1}, … (σAB = [W]_r)', unit: 'rel', arbitrary: loraCase('float64'), check: pissaCheck },
    { id: '13 E.3 blind spot · f64', title: 'LoRA-FA with PiSSA A: a G with AᵀG = 0 gets σ·A·g̃_B = 0; a gaussian A moves it', unit: 'rel', arbitrary: loraCase('float64').filter((c) => c.r < c.d), check: blindSpotCheck }, // r < d: such a G ≠ 0 exists
  ];
  return claims as Claim<never>[];
}
