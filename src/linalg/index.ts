/**
 * Small dense linear algebra on tensors, computed on the CPU in float64 whatever the tensor's
 * dtype (results come back in the input's dtype and device). For the r×r systems of LoRA-FA and
 * the SVDs of the PiSSA and LoRA-GA inits.
 */
import { choleskyF64, cholSolveF64, triangularSolveF64 } from './dense.ts';
import { svdF64 } from './svd.ts';
import { describe, fail } from '../errors.ts';
import { tensor } from '../factories.ts';
import { Tensor } from '../tensor.ts';

/** Reads a CPU tensor as a float64 array; other devices must be read with await first. */
function f64(op: string, t: Tensor): Float64Array {
  if (t.device !== 'cpu') fail(op, `${describe('input', t)} must be on the CPU (linear algebra runs there in float64); use \`await t.to('cpu')\``);
  return Float64Array.from(t.dataSync());
}

function checkSquare(op: string, a: Tensor): number {
  if (a.rank !== 2 || a.shape[0] !== a.shape[1]) fail(op, `${describe('a', a)} must be a square matrix [n, n]`);
  return a.shape[0]!;
}

function checkRhs(op: string, a: Tensor, b: Tensor, n: number): number {
  if (b.rank !== 2 || b.shape[0] !== n) fail(op, `${describe('b', b)} does not fit ${describe('a', a)}; expected b of shape [${n}, k]`);
  return b.shape[1]!;
}

function out(data: Float64Array, shape: number[], like: Tensor): Tensor {
  return tensor(data, { shape, dtype: like.dtype, device: like.device });
}

/** Lower-triangular L with L·Lᵀ = a, for symmetric positive definite a [n, n]. */
export function cholesky(a: Tensor): Tensor {
  const n = checkSquare('cholesky', a);
  return out(choleskyF64(f64('cholesky', a), n), [n, n], a);
}

/**
 * X solving L·X = b (or Lᵀ·X = b when transpose), L lower-triangular [n, n], b [n, k].
 * A zero or non-finite diagonal entry of L (singular: no finite X) is an error naming it.
 */
export function triangularSolve(L: Tensor, b: Tensor, options: { transpose?: boolean } = {}): Tensor {
  const n = checkSquare('triangularSolve', L);
  const k = checkRhs('triangularSolve', L, b, n);
  const x = f64('triangularSolve', b);
  triangularSolveF64(f64('triangularSolve', L), x, n, k, options.transpose ?? false);
  return out(x, [n, k], b);
}

/** X solving a·X = b for symmetric positive definite a [n, n], b [n, k], by Cholesky. */
export function solvePosDef(a: Tensor, b: Tensor): Tensor {
  const n = checkSquare('solvePosDef', a);
  const k = checkRhs('solvePosDef', a, b, n);
  const L = choleskyF64(f64('solvePosDef', a), n, 'solvePosDef');
  return out(cholSolveF64(L, f64('solvePosDef', b), n, k, 'solvePosDef'), [n, k], b);
}

/**
 * The thin SVD a = U·diag(S)·Vᵀ of a [m, n] (one-sided Jacobi in float64, svd.ts): U [m, k] and
 * V [n, k] with orthonormal columns, S [k] descending and ≥ 0, k = min(m, n).
 */
export function svd(a: Tensor): { U: Tensor; S: Tensor; V: Tensor } {
  if (a.rank !== 2) fail('svd', `${describe('a', a)} must be a matrix [m, n]`);
  const [m, n] = a.shape as [number, number];
  const { U, S, V, k } = svdF64(f64('svd', a), m, n);
  return { U: out(U, [m, k], a), S: out(S, [k], a), V: out(V, [n, k], a) };
}
