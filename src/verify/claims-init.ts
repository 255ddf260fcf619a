/**
 * Claim 13, Appendix E.3: how the initialization of the frozen A decides what LoRA-FA can learn.
 * One LoRA-FA step moves the effective weight by σ·A·g̃_B = P_A·G (claim 2), so its update energy
 * is E(A, G) = ‖P_A·G‖²_F.
 *   (i)  blind spot: with A = PiSSA's U_r·diag(√(S_r/|σ|)) (col(A) = W's top-r left singular
 *        directions), every G = (I − P_A)·H ≠ 0 (r < d) gets E(A, G) = 0 — measured through the
 *        LoRA-FA op (σ·A·g̃_B = 0) — while a gaussian A of the same rank moves the same G;
 *  (ii)  random subspaces: for A with i.i.d. gaussian entries (lorafa's init), E[E(A, G)] = (r/d)·‖G‖²_F
 *        for every fixed G. Monte Carlo over S draws of A with the exact variance of one draw,
 *          Var E(A, G) = 2r(d − r)/((d − 1)·d·(d + 2)) · (‖GGᵀ‖²_F − ‖G‖⁴_F/d)    (docs/math.md),
 *        z = (Σ E − S·(r/d)‖G‖²)/√(S·Var) within Z = 5; S is chosen per case so that the same sample
 *        rejects the wrong law r/(d + 1) by at least 2Z + 1 standard errors.
 */
import fc from 'fast-check';
import { initFactor, randomStream } from '../lora/init.ts';
import { pissaFactors } from '../lora/svd-init.ts';
import { EPSILON, roundoff, worst, type Claim, type Outcome } from './claim.ts';
import { gaussian, loraCase, makeData, runMethod, type LoraCase } from './cases.ts';
import { dot, gramCondition, mat, matmul, norm, project, scale, sub, transpose, type Mat } from './dense.ts';
import { biased } from './fault.ts';
import { Z } from './claims-theorem.ts';

/** (i): with X = I (N = d), G = dY: a G with columns in col(A)^⊥ is built directly as (I − P_A)·H. */
function blindSpot(c: LoraCase): Outcome {
  const data = makeData({ ...c, N: c.d });
  const { d, o, r, sigma } = c;
  const Ap = mat(d, r, pissaFactors('verify', data.W.data, d, o, r, sigma).A);
  const G = sub(data.dY, project(Ap, data.dY)); // [d, o]; A_PiSSAᵀ·G = 0
  const identity = mat(d, d, Float64Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0)));
  const withA = (A: Mat) => runMethod({ ...data, X: identity, A, dY: G }, 'loraFA').gradB!;
  const g = Math.max(norm(G), Number.MIN_VALUE);
  const blind = norm(scale(matmul(Ap, withA(Ap)), sigma)) / g; // √E(A_PiSSA, G)/‖G‖ through the op
  // a gaussian A of the same rank sees it: σ·A·g̃_B = P_A·G ≠ 0
  const seen = norm(scale(matmul(data.A, withA(data.A)), sigma)) / g;
  return worst(
    { error: g / norm(data.dY) > 1e-8 ? 0 : Infinity, tolerance: 0, note: `G = (I − P_A)·H is not 0: ‖G‖/‖H‖ = ${g / norm(data.dY)}` },
    { error: blind, tolerance: roundoff(EPSILON.float64, [d, o, r], gramCondition(Ap)), note: `‖σ·A_PiSSA·g̃_B‖/‖G‖ with A_PiSSAᵀ·G = 0 (r = ${r}, d = ${d})` },
    { error: seen > 1e-6 ? 0 : Infinity, tolerance: 0, note: `a gaussian A moves the same G: ‖P_A·G‖/‖G‖ = ${seen}` },
  );
}

export interface EnergyCase {
  d: number;
  r: number;
  o: number;
  seed: number;
}

/** d in 2..12, 1 ≤ r < d, G [d, o] gaussian with o in 1..12 (rank 1 included: the largest variance). */
export const energyCase: fc.Arbitrary<EnergyCase> = fc
  .record({ d: fc.integer({ min: 2, max: 12 }), o: fc.integer({ min: 1, max: 12 }), seed: fc.integer({ min: 0, max: 0xffffffff }) })
  .chain((c) => fc.integer({ min: 1, max: c.d - 1 }).map((r) => ({ ...c, r })));

/** ‖Qᵀ·G‖²_F = ‖P_A·G‖²_F with Q the orthonormalised columns of A [d, r] (modified Gram–Schmidt, twice); A is overwritten. */
function energy(A: Float64Array, d: number, r: number, G: Mat): number {
  const col = (k: number, i: number) => i * r + k;
  let total = 0;
  for (let k = 0; k < r; k++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < k; j++) {
        let p = 0;
        for (let i = 0; i < d; i++) p += A[col(j, i)]! * A[col(k, i)]!;
        for (let i = 0; i < d; i++) A[col(k, i)]! -= p * A[col(j, i)]!;
      }
    }
    let n = 0;
    for (let i = 0; i < d; i++) n += A[col(k, i)]! ** 2;
    n = Math.sqrt(n);
    for (let c = 0; c < G.cols; c++) {
      let p = 0;
      for (let i = 0; i < d; i++) p += A[col(k, i)]! * G.data[i * G.cols + c]!;
      total += (p / n) ** 2;
    }
    for (let i = 0; i < d; i++) A[col(k, i)]! /= n;
  }
  return total;
}

/** The mean and variance of E(A, G) for a uniformly random r-plane col(A) (docs/math.md), and the gap to the law r/(d + 1). */
export function energyLaw(d: number, r: number, G: Mat): { mean: number; variance: number; gap: number } {
  const trM = norm(G) ** 2; //                        tr(GGᵀ) = ‖G‖²_F
  const GtG = matmul(transpose(G), G);
  const trM2 = dot(GtG, GtG); //                      tr((GGᵀ)²) = ‖GᵀG‖²_F
  return {
    mean: (r / d) * trM,
    variance: ((2 * r * (d - r)) / ((d - 1) * d * (d + 2))) * (trM2 - trM ** 2 / d),
    gap: (r * trM) / (d * (d + 1)),
  };
}

/** Draws per case: enough that the sample mean sits 2Z + 1 standard errors from the r/(d + 1) law (at least 64). */
export function drawsFor(law: { variance: number; gap: number }): number {
  return Math.max(64, Math.ceil((((2 * Z + 1) * Math.sqrt(law.variance)) / law.gap) ** 2));
}

/** (ii) for one G, tested against the law mean = ratio(r, d)·‖G‖² (the claim: r/d). */
export function randomSubspace(c: EnergyCase, ratio: (r: number, d: number) => number = (r, d) => r / d): Outcome {
  const stream = randomStream('verify', c.seed);
  const G = gaussian(stream, c.d, c.o, 1, 'float64');
  const law = energyLaw(c.d, c.r, G);
  const S = drawsFor(law);
  let total = 0;
  for (let s = 0; s < S; s++) total += biased(energy(initFactor('verify', 'gaussian', c.d, c.r, 'columns', stream), c.d, c.r, G));
  const expected = ratio(c.r, c.d) * norm(G) ** 2;
  const z = (total - S * expected) / Math.sqrt(S * law.variance);
  return { error: Math.abs(z), tolerance: Z, note: `mean E = ${(total / S).toPrecision(6)} vs ${expected.toPrecision(6)} over S = ${S} draws (z = ${z.toFixed(2)})` };
}

export function initClaimsE3(): Claim<never>[] {
  const blind: Claim<LoraCase> = {
    id: '13 E.3 (i) blind spot · f64',
    title: 'A spanning W\'s top-r left singular directions (PiSSA): a G ≠ 0 with AᵀG = 0 gets E(A, G) = ‖σ·A·g̃_B‖² = 0; a gaussian A moves it',
    unit: 'rel',
    arbitrary: loraCase('float64').filter((c) => c.r < c.d), // r < d: such a G ≠ 0 exists
    check: blindSpot,
    detects: { grad: 1e-10 },
  };
  const random: Claim<EnergyCase> = {
    id: '13 E.3 (ii) random A',
    title: `A gaussian: E[‖P_A·G‖²] = (r/d)‖G‖² for a fixed G; Monte Carlo with the exact variance, within ${Z} standard errors (rejects r/(d + 1))`,
    unit: 'z',
    arbitrary: energyCase,
    check: (c) => randomSubspace(c),
    runsFactor: 0.25,
    detects: { sample: 0.1 },
  };
  return [blind, random] as Claim<never>[];
}
