/**
 * Anomaly detection, as PyTorch's torch.autograd.detect_anomaly: off by default; on, every op's
 * forward outputs and backward gradients are checked for NaN and ±∞, and the first op that
 * produces one is named — with its module path, the tensor, the first bad position and whether
 * its inputs were already non-finite — instead of a NaN loss surfacing steps later.
 *
 * The checks read every result back synchronously, so anomaly mode runs on the CPU backend (on
 * WebGPU a read-back per op would stall the device; move the model with `to('cpu')` to debug it).
 */
import { isFloat } from '../dtype.ts';
import { describe, fail } from '../errors.ts';
import { formatPosition } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { isTensor } from './tensor-class.ts';

let enabled = false;

export function isAnomalyDetectionEnabled(): boolean {
  return enabled;
}

/** Turns anomaly detection on or off for everything that follows. */
export function setDetectAnomaly(on: boolean): void {
  enabled = on;
}

/** Runs fn (synchronous: forward and backward of a CPU model) with anomaly detection on. */
export function detectAnomaly<T>(fn: () => T): T {
  const prev = enabled;
  enabled = true;
  try {
    const result = fn();
    if (result instanceof Promise) throw new TypeError('detectAnomaly: fn returned a Promise; pass a synchronous fn (anomaly mode runs on the CPU backend)');
    return result;
  } finally {
    enabled = prev;
  }
}

/** The first non-finite element of t, or null (t must be readable synchronously). */
function firstNonFinite(phase: string, op: string, t: Tensor): { index: number; value: number } | null {
  if (!isFloat(t.dtype)) return null;
  const read = t.backend.readSync;
  if (!read) fail(op, `anomaly detection checks every ${phase} synchronously, which ${describe('a tensor', t).trim()} cannot be read; run anomaly mode on the CPU backend`);
  const data = read.call(t.backend, t.storage);
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return { index: i, value: data[i]! };
  return null;
}

/**
 * In anomaly mode: throws, naming the op and module, if one of `results` (the outputs of its
 * forward, or the gradients its backward returned) holds a NaN or ±∞.
 */
export function checkFinite(phase: 'forward' | 'backward', op: string, module: string, results: readonly (Tensor | null | undefined)[], inputs: readonly unknown[]): void {
  results.forEach((t, i) => {
    if (!t) return;
    const bad = firstNonFinite(phase, op, t);
    if (!bad) return;
    const fed = inputs.some((x) => isTensor(x) && !x.isDisposed && firstNonFinite(phase, op, x) !== null);
    const what = phase === 'forward' ? `its output ${describe('', t).trim()}` : `the gradient for its input ${i}, ${describe('', t).trim()},`;
    fail(op, `anomaly detected: ${phase} of '${op}'${module ? ` in module '${module}'` : ''} produced ${bad.value} in ${what} at ${formatPosition(bad.index, t.shape)}` +
      (fed ? ` (its inputs already held non-finite values)` : ` from finite inputs`));
  });
}
