/**
 * Runs one op graph on one backend with given input values and upstream gradient, returning the
 * output and the input gradients as host arrays. The float64 run of the CPU's JavaScript tier is
 * the reference; every CPU tier (JavaScript; WebAssembly on one thread, on three threads with
 * every kernel call split, and without shared memory) in float32, the WebAssembly tier in float64,
 * and WebGPU where available, are compared with it.
 */
import { initCpu, scope, tensor, type CpuOptions, type DType, type Device, type Tensor } from '../../src/index.ts';
import type { TypedArray } from '../../src/dtype.ts';
import { expectClose } from '../helpers/allclose.ts';
import { JS_TIER, wasmTier } from '../helpers/cpu-tiers.ts';
import { randomValues, type Domain } from '../helpers/check-op.ts';
import { webgpu } from '../webgpu/gpu.ts';

export interface Target {
  label: string;
  device: Device;
  dtype: DType;
  /** The CPU tier and threads the target runs on (every option given, so targets never inherit each other's). */
  cpu?: Required<CpuOptions>;
  /** Tolerances that replace the suite's (the float64 tier). */
  tol?: { atol: number; rtol: number };
}

export const REFERENCE: Target = { label: 'cpu js float64', device: 'cpu', dtype: 'float64', cpu: JS_TIER };

/** Every backend and CPU tier under test (WebGPU when an adapter exists; see test/webgpu/gpu.ts). */
export const TARGETS: Target[] = [
  { label: 'cpu js float32', device: 'cpu', dtype: 'float32', cpu: JS_TIER },
  { label: 'cpu wasm 1 thread float32', device: 'cpu', dtype: 'float32', cpu: wasmTier(1) },
  { label: 'cpu wasm 3 threads float32', device: 'cpu', dtype: 'float32', cpu: wasmTier(3) },
  { label: 'cpu wasm unshared float32', device: 'cpu', dtype: 'float32', cpu: wasmTier(1, false) },
  { label: 'cpu wasm 3 threads float64', device: 'cpu', dtype: 'float64', cpu: wasmTier(3), tol: { atol: 1e-10, rtol: 1e-9 } },
  ...(webgpu ? [{ label: 'webgpu float32', device: 'webgpu' as const, dtype: 'float32' as const }] : []),
];

/** Switches the CPU backend to the target's tier, waiting for its threads. */
export async function useTarget(target: Target): Promise<void> {
  if (target.cpu) {
    const info = await initCpu(target.cpu);
    if (info.tier !== target.cpu.tier || info.threads !== target.cpu.threads) throw new Error(`${target.label}: the CPU runs ${JSON.stringify(info)}`);
  }
}

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
  await useTarget(target);
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

type Tol = { atol: number; rtol: number };
/** A tolerance derived from an output's reference values; `input` is the gradient's input (−1: the output). */
export type DerivedTol = (ref: ArrayLike<number>, input: number) => Tol;

/** Fixed tolerances, or ones derived from each output's reference values (the 16-bit suite: half.ts). */
export interface Tolerances {
  tol: Tol | DerivedTol;
  gradTol: Tol | DerivedTol;
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
  const resolve = (t: Tolerances['tol'], values: ArrayLike<number>, input: number) => (typeof t === 'function' ? t(values, input) : t);
  check('output', () => expectClose(got.y, ref.y, got.y instanceof Int32Array ? { atol: 0, rtol: 0 } : resolve(tol, ref.y, -1)));
  ref.grads.forEach((g, i) => check(`gradient of input ${i}`, () => {
    if ((g === null) !== (got.grads[i] === null)) throw new Error(`${got.grads[i] ? 'present' : 'missing'}, reference ${g ? 'present' : 'missing'}`);
    if (g) expectClose(got.grads[i]!, g, resolve(gradTol, g, i));
  }));
}
