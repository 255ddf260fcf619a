/**
 * Runs one op graph on one backend with given input values and upstream gradient, returning the
 * output and the input gradients as host arrays. The float64 CPU run is the reference; the
 * float32 runs (CPU and, where available, WebGPU) are compared with it.
 */
import { scope, tensor, type DType, type Device, type Tensor } from '../../src/index.ts';
import type { TypedArray } from '../../src/dtype.ts';
import { expectClose } from '../helpers/allclose.ts';
import { randomValues, type Domain } from '../helpers/check-op.ts';
import { webgpu } from '../webgpu/gpu.ts';

export interface Target {
  label: string;
  device: Device;
  dtype: DType;
}

export const REFERENCE: Target = { label: 'cpu float64', device: 'cpu', dtype: 'float64' };

/** Every backend under test (WebGPU when an adapter exists; see test/webgpu/gpu.ts). */
export const TARGETS: Target[] = [
  { label: 'cpu float32', device: 'cpu', dtype: 'float32' },
  ...(webgpu ? [{ label: 'webgpu float32', device: 'webgpu' as const, dtype: 'float32' as const }] : []),
];

export interface Outcome {
  shape: readonly number[];
  y: TypedArray;
  /** One per input: its gradient, or null where it requires none. */
  grads: (TypedArray | null)[];
}

/** Input values rounded to float32, so every backend (the float64 reference too) sees the same numbers. */
export function inputValues(shapes: readonly (readonly number[])[], seed: number, domain?: Domain | Domain[]): number[][] {
  return shapes.map((s, i) => {
    const d = Array.isArray(domain) ? domain[i] : domain;
    return randomValues(s.reduce((a, b) => a * b, 1), seed + 7919 * i, d).map(Math.fround);
  });
}

export function upstreamValues(size: number, seed: number): number[] {
  return randomValues(size, seed ^ 0x5bd1e995, { min: -1, max: 1 }).map(Math.fround);
}

/**
 * build(xs) on tensors made from values on target; backward from `upstream` (values for the
 * output, made by upstream(size)) when any input requires grad. Frees everything it made.
 */
export async function evaluate(
  target: Target,
  shapes: readonly (readonly number[])[],
  values: readonly number[][],
  requiresGrad: readonly boolean[],
  build: (xs: Tensor[]) => Tensor,
  upstream: (size: number) => number[],
  prepare?: (xs: Tensor[]) => Promise<void>,
): Promise<Outcome> {
  const { device, dtype } = target;
  const xs = values.map((v, i) => tensor(v, { shape: shapes[i]!, dtype, device, requiresGrad: requiresGrad[i] ?? false }));
  try {
    await prepare?.(xs);
    const y = scope(() => build(xs)); // intermediates (casts, masks, constants) are freed
    const out: Outcome = { shape: [...y.shape], y: await y.data(), grads: xs.map(() => null) };
    if (y.requiresGrad) {
      const g = tensor(upstream(y.size), { shape: y.shape, dtype, device });
      y.backward(g);
      g.dispose();
      out.grads = await Promise.all(xs.map((x) => (x.grad ? x.grad.data() : null)));
    }
    y.dispose();
    return out;
  } finally {
    for (const x of xs) {
      x.grad?.dispose();
      x.dispose();
    }
  }
}

export interface Tolerances {
  tol: { atol: number; rtol: number };
  gradTol: { atol: number; rtol: number };
}

/** Asserts target's outcome matches the reference (shape, values, gradients), naming what differs. */
export function expectConform(what: string, got: Outcome, ref: Outcome, { tol, gradTol }: Tolerances): void {
  const check = (part: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      throw new Error(`${what}: ${part}: ${(e as Error).message}`);
    }
  };
  check('output shape', () => {
    if (got.shape.join() !== ref.shape.join()) throw new Error(`[${got.shape}] vs reference [${ref.shape}]`);
  });
  check('output', () => expectClose(got.y, ref.y, got.y instanceof Int32Array ? { atol: 0, rtol: 0 } : tol));
  ref.grads.forEach((g, i) => check(`gradient of input ${i}`, () => {
    if ((g === null) !== (got.grads[i] === null)) throw new Error(`${got.grads[i] ? 'present' : 'missing'}, reference ${g ? 'present' : 'missing'}`);
    if (g) expectClose(got.grads[i]!, g, gradTol);
  }));
}
