/**
 * Claims 11–12 (docs/math.md): the PEFT methods LoRA-FA is compared with (claim 13, LoRA-FA with
 * PiSSA's A, is in claims-init.ts).
 *   11  LoRA-Pro: σ·(A·g̃_B + g̃_A·B) = P_A·G + G·P_B − P_A·G·P_B (projections by QR here, not the
 *       op's Cholesky), and ‖G − ΔW_Pro‖ ≤ min(‖G − ΔW_LoRA-FA‖, ‖G − ΔW_LoRA-FB‖).
 *   12  PiSSA: at init the adapted layer computes the base layer's output to float64 rounding, and
 *       the residual W − σ·A·B has W's singular values from r + 1 on (σ·A·B = [W]_r).
 */
import { Linear } from '../nn/linear.ts';
import { LorafaError } from '../errors.ts';
import { LoraLinear } from '../lora/layers.ts';
import { loraPro } from '../lora/lora-pro.ts';
import { conditionLimit } from '../lora/gram.ts';
import { noGrad } from '../autograd/grad-mode.ts';
import { EPSILON, roundoff, worst, type Claim, type Outcome } from './claim.ts';
import { fullGradient, leaf, loraCase, makeData, naturalScales, type LoraCase, type LoraData } from './cases.ts';
import { combine, fromTensor, gramCondition, matmul, mat, norm, project, scale, singularValues, sub, transpose, type Mat } from './dense.ts';
import { perturb } from './fault.ts';

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
  const s = naturalScales(data);
  const [gA, gB] = [perturb('grad', fromTensor(A.grad!), s.projectedA), perturb('grad', fromTensor(B.grad!), s.projectedB)];
  return scale(combine(matmul(data.A, gB), 1, matmul(gA, data.B), 1), sigma);
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
  const after = perturb('output', fromTensor(noGrad(() => layer.forward(x))), norm(data.X) * norm(data.W));
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

export function peftClaims(): Claim<never>[] {
  const claims: Claim<LoraCase>[] = [
    { id: '11 LoRA-Pro · f64', title: 'σ(A·g̃_B + g̃_A·B) = P_A·G + G·P_B − P_A·G·P_B; ‖G − ΔW_Pro‖ ≤ min(LoRA-FA, LoRA-FB)', unit: 'rel', arbitrary: loraCase('float64'), check: loraProCheck, detects: { grad: 1e-10 } },
    { id: '12 PiSSA init · f64', title: 'at init X·(W − σAB) + σ(XA)B = X·W; W − σAB keeps s_{r+1}, … (σAB = [W]_r)', unit: 'rel', arbitrary: loraCase('float64'), check: pissaCheck, detects: { output: 1e-10 } },
  ];
  return claims as Claim<never>[];
}
