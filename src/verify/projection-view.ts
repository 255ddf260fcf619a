/**
 * Theorem 4.1 for one input, as numbers to look at (the playground's first panel): the engine's
 * gradients of one LoRA-FA layer, the projection they make, and claims 1–4 measured on it.
 *
 *   G = Xᵀ·dY [d, o]            the Full-FT gradient (generic autograd through ops.linear)
 *   g_B = σ·Aᵀ·G [r, o]         LoRA's gradient of B (ops.lora), = LoRA-FA with correction 'none'
 *   g̃_B = (1/σ²)(AᵀA)⁻¹·g_B     LoRA-FA's corrected gradient (ops.loraFA, closed form)
 *   σ·A·g̃_B = P_A·G [d, o]      the update it makes in weight space, the projection of G onto col(A)
 *   R = G − P_A·G [d, o]        the residual; Aᵀ·R [r, o] = 0 (its inner products with A's columns)
 */
import { fail } from '../errors.ts';
import type { LoraCase, LoraData } from './cases.ts';
import { holds, type Outcome } from './claim.ts';
import { closedForm, descent, optimality, problem, projection } from './claims-projection.ts';
import { matmul, mat, norm, project, scale, sub, transpose, type Mat } from './dense.ts';

export interface ProjectionClaim {
  id: string;
  title: string;
  error: number;
  tolerance: number;
  holds: boolean;
  note: string;
}

export interface ProjectionView {
  sigma: number;
  /** Each shown matrix by name: G, gB, gTilde, update (σ·A·g̃_B), uncorrected (σ·A·g_B), PAG, residual, AtR. */
  matrices: Record<'G' | 'gB' | 'gTilde' | 'update' | 'uncorrected' | 'PAG' | 'residual' | 'AtR', Mat>;
  /** ‖σ·A·g̃_B − P_A·G‖ / ‖P_A·G‖ and the same for the uncorrected σ·A·g_B. */
  distance: { corrected: number; uncorrected: number };
  /** max |⟨a_j, R_k⟩| / (‖A‖‖G‖): the residual's inner products with A's columns, relative. */
  residualInner: number;
  claims: ProjectionClaim[];
}

const CLAIMS: [string, string, (p: Exclude<ReturnType<typeof problem>, { refused: Outcome }>) => Outcome][] = [
  ['1 closed form', 'g̃_B = (1/σ)(AᵀA)⁻¹AᵀG; uncorrected = σAᵀG = LoRA g_B', closedForm],
  ['2 projection', 'σ·A·g̃_B = P_A·G and Aᵀ(G − σA·g̃_B) = 0', projection],
  ['3 optimality', '‖σA(g̃_B ± E) − G‖ ≥ ‖σA·g̃_B − G‖', optimality],
  ['4 descent', '⟨g_B, g̃_B⟩ = ‖P_A G‖² ≥ 0; an SGD step lowers a quadratic loss', descent],
];

/** The view of one LoRA-FA problem; a LorafaError when the op refuses it (A rank-deficient or too ill-conditioned). */
export function projectionView(data: LoraData): ProjectionView {
  const p = problem(data, 'FA');
  if ('refused' in p) fail('projection', `the LoRA-FA op refused this A: ${p.refused.note ?? ''}`);
  const { U: A, G, gTilde, gPlain, sigma } = p;
  const update = scale(matmul(A, gTilde), sigma);
  const uncorrected = scale(matmul(A, p.gNone), sigma);
  const PAG = project(A, G);
  const residual = sub(G, PAG);
  const AtR = matmul(transpose(A), residual);
  const pNorm = Math.max(norm(PAG), Number.MIN_VALUE);
  return {
    sigma,
    matrices: { G, gB: gPlain, gTilde, update, uncorrected, PAG, residual, AtR },
    distance: { corrected: norm(sub(update, PAG)) / pNorm, uncorrected: norm(sub(uncorrected, PAG)) / pNorm },
    residualInner: Math.max(0, ...Array.from(AtR.data, Math.abs)) / Math.max(norm(A) * norm(G), Number.MIN_VALUE),
    claims: CLAIMS.map(([id, title, check]) => {
      const o = check(p);
      return { id, title, error: o.error, tolerance: o.tolerance, holds: holds(o), note: o.note ?? '' };
    }),
  };
}

/**
 * A case's data with X [N, d], dY [N, o] and A [d, r] replaced by the user's, from JSON
 * `{"X": [[…], …], "dY": [[…], …], "A": [[…], …]}` (W and B stay drawn from the seed, resized).
 * A LorafaError saying what is wrong when the text is not JSON, a matrix is missing, ragged,
 * not numbers, or the shapes do not fit together (1 ≤ r ≤ min(d, o)).
 */
export function dataFromJson(text: string, base: (c: LoraCase) => LoraData, c: LoraCase): LoraData {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    fail('projection', `the matrices are not valid JSON (${(e as Error).message}); expected {"X": [[…]], "dY": [[…]], "A": [[…]]}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('projection', 'expected a JSON object {"X": [[…]], "dY": [[…]], "A": [[…]]}');
  }
  const obj = value as Record<string, unknown>;
  const X = matrix(obj, 'X'), dY = matrix(obj, 'dY'), A = matrix(obj, 'A');
  const [N, d, o, r] = [X.rows, X.cols, dY.cols, A.cols];
  if (dY.rows !== N) fail('projection', `dY has ${dY.rows} rows but X has ${N}; expected X [N, d] and dY [N, o] with the same N`);
  if (A.rows !== d) fail('projection', `A has ${A.rows} rows but X has ${d} columns; expected A [d, r] with d = X's columns`);
  if (r > Math.min(d, o)) fail('projection', `A has r = ${r} columns; expected r ≤ min(d, o) = ${Math.min(d, o)}`);
  const drawn = base({ ...c, N, d, o, r });
  return { ...drawn, X, dY, A };
}

function matrix(obj: Record<string, unknown>, key: string): Mat {
  const rows = obj[key];
  const expected = `expected "${key}" as a non-empty array of equal-length arrays of finite numbers`;
  if (!Array.isArray(rows) || rows.length === 0) fail('projection', `"${key}" is ${rows === undefined ? 'missing' : JSON.stringify(rows)}; ${expected}`);
  const cols = Array.isArray(rows[0]) ? rows[0].length : 0;
  const m = mat(rows.length, cols);
  rows.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== cols || cols === 0) fail('projection', `"${key}" row ${i} is ${JSON.stringify(row)}; ${expected} (row 0 has ${cols})`);
    row.forEach((v: unknown, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail('projection', `"${key}"[${i}][${j}] is ${JSON.stringify(v)}; ${expected}`);
      m.data[i * cols + j] = v;
    });
  });
  return m;
}
