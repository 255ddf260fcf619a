/**
 * Automatic mixed precision, as torch.autocast on CUDA with a 16-bit dtype: inside
 * `autocast(dtype, fn)` each op picks the dtype it runs in from a per-op policy, casting its
 * inputs with ops.cast (a differentiable op: gradients flow back through the casts to the
 * float32 leaves, so parameters and their gradients stay float32).
 *
 *   'lower'    matmul-like ops (matmul, linear, the LoRA family, DoRA, VeRA): float32 (and the
 *              other 16-bit) inputs become `dtype`; they run and save in 16 bits.
 *   'float32'  softmax, log-softmax, layer norm, cross entropy: 16-bit inputs become float32.
 *   'promote'  ops of several inputs (add, sub, mul, div, where, concat): inputs of differing float
 *              dtypes become the widest (float16 with bfloat16: float32); a rank-0 operand does
 *              not take part when another operand has dimensions (PyTorch's rule), it is cast.
 *   Every other op runs in its input's dtype. float64 inputs are never cast.
 *
 * Weight-cast cache (PyTorch's): the 16-bit copy of a leaf that requires grad (a trained weight)
 * is made once per autocast region and reused by every op in it, so it is saved once; copies of
 * other tensors (activations, frozen weights, buffers) are made per op, as PyTorch makes them.
 * What an op saves is what it gets: linear under autocast saves the 16-bit copies of x and W. Copies
 * of parameters are marked (weight-copies.ts): measureSaved lists them with `weightCopy: true`.
 *
 * fn must be synchronous (the region ends when fn returns). Nesting and exceptions restore the
 * previous state; `autocast(null, fn)` turns autocast off inside fn.
 */
import { describeValue, fail } from '../errors.ts';
import type { DType } from '../dtype.ts';
import type { Tensor } from '../tensor.ts';
import { isGradEnabled } from './grad-mode.ts';
import { cast } from './ops/cast.ts';
import { isTensor } from './tensor-class.ts';
import { markWeightCopy } from './weight-copies.ts';

export type AutocastDtype = 'float16' | 'bfloat16';
export const AUTOCAST_DTYPES: readonly AutocastDtype[] = ['float16', 'bfloat16'];
export type AutocastPolicy = 'lower' | 'float32' | 'promote';

interface Region {
  dtype: AutocastDtype | null;
  /** Leaf → its cast copy (and the leaf's version when cast): the weight-cast cache. */
  cache: Map<Tensor, { version: number; copy: Tensor }>;
}

const regions: Region[] = [];

/** The dtype matmul-like ops run in now, or null outside autocast. */
export function autocastDtype(): AutocastDtype | null {
  return regions.length ? regions[regions.length - 1]!.dtype : null;
}

/** Runs fn with matmul-like ops in `dtype` and softmax / normalisation / losses in float32 (the header). */
export function autocast<T>(dtype: AutocastDtype | null, fn: () => T): T {
  if (dtype !== null && !AUTOCAST_DTYPES.includes(dtype)) {
    fail('autocast', `dtype is ${describeValue(dtype)}; expected 'bfloat16' or 'float16' (or null to turn autocast off)`);
  }
  if (typeof fn !== 'function') fail('autocast', `fn is ${describeValue(fn)}; expected a function`);
  const region: Region = { dtype, cache: new Map() };
  regions.push(region);
  try {
    const out = fn();
    if (out !== null && typeof (out as { then?: unknown })?.then === 'function') {
      fail('autocast', 'fn returned a Promise; expected a synchronous function (the autocast region ends when fn returns)');
    }
    return out;
  } finally {
    regions.splice(regions.lastIndexOf(region), 1);
    for (const { copy } of region.cache.values()) copy.dispose(); // ops that saved a copy hold their own alias
  }
}

/** Runs fn with the autocast state `dtype` (checkpointing's recomputation restores the forward's). */
export function withAutocastState<T>(dtype: AutocastDtype | null, fn: () => T): T {
  return dtype === autocastDtype() ? fn() : autocast(dtype, fn);
}

const WIDTH: Partial<Record<DType, number>> = { float16: 1, bfloat16: 1, float32: 2, float64: 3 };

/** The dtype an op of this policy runs its float input t in, or null to leave t as it is. */
function target(policy: AutocastPolicy, dtype: AutocastDtype, t: Tensor, widest: DType | null): DType | null {
  const from = t.dtype;
  if (from === 'float64' || WIDTH[from] === undefined) return null;
  const to = policy === 'lower' ? dtype : policy === 'float32' ? 'float32' : widest;
  return to && to !== from ? to : null;
}

/** The widest float dtype of the dimensioned operands (of all, if every one is rank 0); float16 with bfloat16 is float32. */
function widestDtype(ts: readonly Tensor[]): DType | null {
  const floats = ts.filter((t) => WIDTH[t.dtype] !== undefined);
  const deciding = floats.some((t) => t.rank > 0) ? floats.filter((t) => t.rank > 0) : floats;
  let best: DType | null = null;
  for (const t of deciding) {
    if (best === null || WIDTH[t.dtype]! > WIDTH[best]!) best = t.dtype;
    else if (WIDTH[t.dtype] === WIDTH[best] && t.dtype !== best) best = 'float32';
  }
  return best;
}

/** t as dtype: the region's cached copy for a leaf that requires grad, a new cast otherwise. */
function castIn(region: Region, t: Tensor, dtype: DType): { value: Tensor; owned: boolean } {
  const cacheable = dtype === region.dtype && t.requiresGrad && !t.gradFn && isGradEnabled();
  const copyOf = (w: Tensor) => {
    const c = cast(w, dtype);
    if (w.isParameter) markWeightCopy(c.storage);
    return c;
  };
  if (!cacheable) return { value: copyOf(t), owned: true };
  const hit = region.cache.get(t);
  if (hit && hit.version === t.version) return { value: hit.copy, owned: false };
  hit?.copy.dispose();
  const copy = copyOf(t);
  region.cache.set(t, { version: t.version, copy });
  return { value: copy, owned: false };
}

/**
 * Runs an op on its tensor inputs (anything else passed as it is) after casting them as `policy` says under
 * the current autocast region; outside autocast runs it on the inputs as they are. The casts'
 * handles are disposed afterwards (an op that saved a copy holds its own alias).
 */
export function autocastOp<const A extends readonly unknown[], T>(policy: AutocastPolicy, inputs: A, run: (...cast: A) => T): T {
  const region = regions[regions.length - 1];
  if (!region?.dtype) return run(...inputs);
  const dtype = region.dtype;
  const present = inputs.filter((t): t is Tensor => isTensor(t));
  const widest = policy === 'promote' ? widestDtype(present) : null;
  const owned: Tensor[] = [];
  try {
    const values = inputs.map((t) => {
      const to = isTensor(t) && target(policy, dtype, t, widest);
      if (!t || !to) return t;
      const c = castIn(region, t, to);
      if (c.owned) owned.push(c.value);
      return c.value;
    }) as unknown as A;
    return run(...values);
  } finally {
    for (const t of owned) t.dispose();
  }
}
