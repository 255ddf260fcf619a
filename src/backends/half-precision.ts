import { Storage, type Kernels } from './backend.ts';
import { decodeHalf, encodeHalf, HALF_FORMATS, isHalf, type HalfDType } from '../half-float.ts';
import { fail } from '../errors.ts';

/**
 * float16 and bfloat16 on a backend whose kernels compute in float32 — the rule PyTorch's CPU
 * kernels follow for 16-bit tensors: every 16-bit operand is widened to a float32 scratch copy
 * (exact: each 16-bit value is a float32), the float32 kernel runs — so sums, dot products and
 * reductions accumulate in float32 — and its float outputs are rounded back, once, to the
 * operands' 16-bit dtype (round to nearest even). The scratch copies are freed before the
 * kernel returns.
 *
 * What the base kernels must do themselves: store 16-bit storages, `cast` between every pair of
 * dtypes (16-bit ones included, rounding once from the exact source value), `full`, and the
 * kernels that only move elements (gatherStrided, scatterStrided, gatherRows), which copy the
 * 16-bit patterns as they are — widening a tensor to copy a slice of it would cost a pass over
 * all of it. A scalar operand (binaryScalar's value) is rounded to the 16-bit dtype first, as
 * the interface says.
 *
 * Outputs that stay float32: the statistics a backward reads — layer norm's mean and rstd,
 * cross entropy's lse and valid — as PyTorch keeps them (native_layer_norm's mean/rstd are in
 * the accumulation type). In-place kernels (scatterStrided, the optimizers) write their 16-bit
 * operands back through `overwrite`.
 */
export interface HalfHooks {
  /** Copies src's elements into dst (same dtype and size), in place. */
  overwrite(dst: Storage, src: Storage): void;
}

/** Outputs of multi-output kernels that stay float32 (see above). */
const FLOAT32_OUTPUTS: ReadonlySet<string> = new Set(['mean', 'rstd', 'lse', 'valid']);
/** Kernels that change some of their storage arguments in place: the positions of those arguments. */
const IN_PLACE: ReadonlyMap<string, readonly number[]> = new Map([['scatterStrided', [0]], ['adamwStep', [0, 2, 3]], ['sgdStep', [0, 2]]]);
/** Kernels that take a dtype argument, handled by the base kernels or below. */
const BY_DTYPE: ReadonlySet<string> = new Set(['cast', 'full', 'random']);
/** Kernels that only move elements: with every float operand in one 16-bit dtype, the base kernel copies the bits. */
const BIT_COPY: ReadonlySet<string> = new Set(['gatherStrided', 'scatterStrided', 'gatherRows']);

type KernelFn = (...args: unknown[]) => unknown;

/** The storages among a call's arguments: the arguments themselves and the fields of an options object (matmul's epilogue). */
function storagesIn(args: readonly unknown[]): Storage[] {
  return args.flatMap((a) => a instanceof Storage ? [a]
    : a !== null && typeof a === 'object' && !Array.isArray(a) ? Object.values(a).filter((v): v is Storage => v instanceof Storage)
    : []);
}

/** The one 16-bit dtype among a call's storages, or null; two different ones are an error naming the kernel. */
function halfDtypeOf(kernel: string, args: readonly unknown[]): HalfDType | null {
  let half: HalfDType | null = null;
  for (const a of storagesIn(args)) {
    if (!isHalf(a.dtype)) continue;
    if (half && half !== a.dtype) fail(kernel, `operands mix ${half} and ${a.dtype}; expected one 16-bit dtype (cast first)`);
    half = a.dtype;
  }
  return half;
}

/** base's kernels, extended to float16 and bfloat16 operands as described above. */
export function withHalfPrecision(base: Kernels, hooks: HalfHooks): Kernels {
  const narrow = (s: Storage, half: HalfDType): Storage => {
    if (s.dtype !== 'float32') return s;
    const out = base.cast(s, half);
    s.release();
    return out;
  };
  const narrowResult = (result: unknown, half: HalfDType): unknown => {
    if (result instanceof Storage) return narrow(result, half);
    if (result === null || typeof result !== 'object') return result;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(result)) {
      out[key] = value instanceof Storage && !FLOAT32_OUTPUTS.has(key) ? narrow(value, half) : value;
    }
    return out;
  };
  const wrap = (name: string, fn: KernelFn): KernelFn => (...args) => {
    const half = halfDtypeOf(name, args);
    if (!half) return fn(...args);
    if (BIT_COPY.has(name) && storagesIn(args).every((s) => s.dtype === half || s.dtype === 'int32')) return fn(...args);
    if (name === 'binaryScalar') args[2] = decodeHalf(HALF_FORMATS[half], encodeHalf(HALF_FORMATS[half], args[2] as number));
    const scratch: Storage[] = [];
    const widen = (a: unknown): unknown => {
      if (!(a instanceof Storage) || !isHalf(a.dtype)) return a;
      const w = base.cast(a, 'float32');
      scratch.push(w);
      return w;
    };
    const widened = args.map((a) => a instanceof Storage ? widen(a)
      : a !== null && typeof a === 'object' && !Array.isArray(a) && storagesIn([a]).length ? Object.fromEntries(Object.entries(a).map(([k, v]) => [k, widen(v)]))
      : a);
    try {
      const result = fn(...widened);
      for (const i of IN_PLACE.get(name) ?? []) {
        const w = widened[i];
        if (w === args[i] || !(w instanceof Storage)) continue;
        const rounded = base.cast(w, half);
        hooks.overwrite(args[i] as Storage, rounded);
        rounded.release();
      }
      return narrowResult(result, half);
    } finally {
      for (const w of scratch) w.release();
    }
  };
  const kernels: Record<string, KernelFn> = {};
  for (const [name, fn] of Object.entries(base) as [string, KernelFn][]) {
    kernels[name] = BY_DTYPE.has(name) ? fn : wrap(name, fn);
  }
  // random numbers in a 16-bit dtype: the float32 draw, rounded (the same stream as float32)
  const random: Kernels['random'] = (dist, dtype, size, seed, offset) => isHalf(dtype)
    ? narrow(base.random(dist, 'float32', size, seed, offset), dtype)
    : base.random(dist, dtype, size, seed, offset);
  return { ...(kernels as unknown as Kernels), random };
}
