import { describe, fail } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { newTensor } from './tensor-class.ts';
import { noGrad } from './grad-mode.ts';

export interface GradcheckOptions {
  /** Central-difference step (default 1e-6). */
  eps?: number;
  /** An element passes when |analytic − numeric| ≤ atol + rtol·|numeric| (defaults 1e-5, 1e-3). */
  atol?: number;
  rtol?: number;
  /** Seed of the random output weights (default 0). */
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  maxAbsError: number;
  /** The worst element: which input, its flat index, and both derivatives. */
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
}

/**
 * Checks autograd against central differences in float64. The outputs are reduced to a
 * scalar L = Σ w·f(inputs) with fixed random weights w (so every output element matters),
 * then for every element x of every input that requires grad:
 *     numeric = (L(x + eps) − L(x − eps)) / (2·eps)   vs   analytic = ∂L/∂x from backward.
 * Inputs must be float64 CPU tensors; they are perturbed in place and restored.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  const eps = options.eps ?? 1e-6, atol = options.atol ?? 1e-5, rtol = options.rtol ?? 1e-3;
  for (const t of inputs) {
    if (t.dtype !== 'float64' || t.device !== 'cpu') fail('gradcheck', `${describe('input', t)} must be a float64 CPU tensor`);
  }
  const out0 = noGrad(() => fn(...inputs));
  const weights = deterministicWeights(out0.size, options.seed ?? 0);
  if (!inputs.includes(out0)) out0.dispose(); // fn may return an input unchanged (dropout with p = 0)
  const loss = (): number => {
    const y = fn(...inputs).dataSync();
    let s = 0;
    for (let i = 0; i < y.length; i++) s += weights[i]! * y[i]!;
    return s;
  };

  for (const t of inputs) {
    t.grad?.dispose();
    t.grad = null;
  }
  const y = fn(...inputs);
  if (!y.requiresGrad) fail('gradcheck', 'the output does not require grad; expected at least one input with requiresGrad');
  y.backward(newTensor(y.backend.upload(weights), y.shape));

  let worst: GradcheckResult['worst'] = null;
  let maxAbsError = 0, ok = true;
  inputs.forEach((t, input) => {
    if (!t.requiresGrad) return;
    const analytic = t.grad ? t.grad.dataSync() : new Float64Array(t.size);
    const data = t.storage.handle as Float64Array;
    for (let index = 0; index < t.size; index++) {
      const orig = data[index]!;
      data[index] = orig + eps;
      const plus = noGrad(loss);
      data[index] = orig - eps;
      const minus = noGrad(loss);
      data[index] = orig;
      const numeric = (plus - minus) / (2 * eps);
      const err = Math.abs(analytic[index]! - numeric);
      if (!(err <= atol + rtol * Math.abs(numeric))) ok = false;
      if (err > maxAbsError || Number.isNaN(err)) {
        maxAbsError = Number.isNaN(err) ? NaN : err;
        worst = { input, index, analytic: analytic[index]!, numeric };
      }
    }
  });
  return { ok, maxAbsError, worst };
}

/** Weights in [0.5, 1.5) from a small LCG: fixed per seed, never zero. */
function deterministicWeights(n: number, seed: number): Float64Array {
  const w = new Float64Array(n);
  let s = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    w[i] = 0.5 + s / 2 ** 32;
  }
  return w;
}
