import { getBackend, defaultDevice } from './backends/registry.ts';
import type { Backend, Storage } from './backends/backend.ts';
import { DTYPES, dtypeOfArray, isFloat, typedArrayFor, type DType, type Device, type TypedArray } from './dtype.ts';
import { describeValue, fail, fmtShape } from './errors.ts';
import { encodeHalfArray, isHalf } from './half-float.ts';
import { checkSeed, nextRandomState } from './random.ts';
import { checkShape, checkValues, flattenNested, sizeOf, type NestedArray } from './shape.ts';
import { Tensor } from './tensor.ts';

export interface CreateOptions {
  /** float32 unless given (a Float64Array or Int32Array source keeps its own type). */
  dtype?: DType;
  /** The default device (see useBackend) unless given. */
  device?: Device;
  requiresGrad?: boolean;
  /** Marks a weight for the saved-bytes accounting. */
  parameter?: boolean;
}

export interface RandomOptions extends CreateOptions {
  /** Seed of this call's own stream (offset 0); without it the global generator (manualSeed) is used and advanced. */
  seed?: number;
}

/** Resolves and validates the options every factory shares; returns the backend to allocate on. */
function resolve(op: string, opts: CreateOptions, fallbackDtype: DType = 'float32'): { backend: Backend; dtype: DType } {
  const dtype = opts.dtype ?? fallbackDtype;
  if (!DTYPES.includes(dtype)) fail(op, `unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}`);
  const backend = getBackend(opts.device ?? defaultDevice());
  if (!backend.supportsDtype(dtype)) {
    fail(op, `dtype ${dtype} is not supported on ${backend.device}; expected ${backend.device === 'webgpu' ? 'float32, int32, float16 or bfloat16 (float64 lives on the CPU)' : 'a supported dtype'}`);
  }
  if (opts.requiresGrad && !isFloat(dtype)) fail(op, `only floating-point tensors can require grad; got dtype ${dtype}`);
  return { backend, dtype };
}

/** The host array of dtype holding values (16-bit dtypes: rounded to nearest even, half-float.ts). */
function hostArray(dtype: DType, values: ArrayLike<number>): TypedArray {
  if (isHalf(dtype)) return encodeHalfArray(dtype, values);
  const flat = typedArrayFor(dtype, values.length);
  flat.set(values);
  return flat;
}

function make(storage: Storage, shape: readonly number[], opts: CreateOptions): Tensor {
  return new Tensor(storage, shape, { requiresGrad: opts.requiresGrad ?? false, parameter: opts.parameter ?? false });
}

/**
 * A tensor from nested arrays (`tensor([[1, 2], [3, 4]])`), a number (rank 0), or a flat
 * array / typed array with an explicit shape (`tensor(new Float32Array(6), { shape: [2, 3] })`).
 */
export function tensor(data: NestedArray | TypedArray | readonly number[], opts: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  const isTyped = ArrayBuffer.isView(data);
  const { backend, dtype } = resolve('tensor', opts, isTyped ? dtypeOfArray(data as TypedArray, opts.dtype) : 'float32');
  let shape: readonly number[];
  let values: ArrayLike<number>;
  if (isTyped || opts.shape) {
    if (isTyped) values = data as TypedArray;
    else if (typeof data === 'number') values = [data];
    else if (Array.isArray(data)) values = flattenNested('tensor', data).values;
    else fail('tensor', `data is ${describeValue(data)}; expected a number, an array of numbers or a typed array`);
    shape = opts.shape ?? [values.length];
    checkShape('tensor', shape);
    if (sizeOf(shape) !== values.length) {
      fail('tensor', `data has ${values.length} elements but shape ${fmtShape(shape)} needs ${sizeOf(shape)}`);
    }
  } else {
    ({ shape, values } = flattenNested('tensor', data));
  }
  if (data instanceof Uint16Array) { // 16-bit bit patterns, taken as they are
    if (dtype !== opts.dtype) fail('tensor', `a Uint16Array holds ${opts.dtype} bits and cannot become ${dtype}; create it as ${opts.dtype}, then cast`);
    return make(backend.upload(data, dtype), shape, opts);
  }
  checkValues('tensor', values, dtype, shape);
  return make(backend.upload(hostArray(dtype, values), dtype), shape, opts);
}

/** full, zeros and ones; op names the caller in errors. */
function filled(op: string, shape: readonly number[], value: number, opts: CreateOptions): Tensor {
  checkShape(op, shape);
  const { backend, dtype } = resolve(op, opts);
  if (typeof value !== 'number') fail(op, `value is ${describeValue(value)}; expected a number`);
  checkValues(op, [value], dtype, []);
  return make(backend.kernels.full(dtype, sizeOf(shape), value), shape, opts);
}

export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  return filled('full', shape, value, opts);
}

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return filled('zeros', shape, 0, opts);
}

export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return filled('ones', shape, 1, opts);
}

/** The most elements arange makes (the largest int32): more is an error, not a failed allocation. */
const MAX_ARANGE = 2 ** 31 - 1;

/** [start, start + step, ...) up to end (exclusive); arange(n) is 0..n−1. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  for (const [name, v] of [['start', start], ['end', end]] as const) {
    if (!Number.isFinite(v)) fail('arange', `${name} must be a finite number, got ${v}`);
  }
  if (step === 0 || !Number.isFinite(step)) fail('arange', `step must be a finite non-zero number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (n > MAX_ARANGE) fail('arange', `[${start}, ${end}) in steps of ${step} has ${n} elements; expected at most ${MAX_ARANGE}`);
  const { backend, dtype } = resolve('arange', opts);
  const values = Float64Array.from({ length: n }, (_, i) => start + i * step);
  checkValues('arange', values, dtype, [n]);
  return make(backend.upload(hostArray(dtype, values), dtype), [n], opts);
}

/** n×m identity (m = n by default). */
export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const { backend, dtype } = resolve('eye', opts);
  const flat = new Float64Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) flat[i * m + i] = 1;
  return make(backend.upload(hostArray(dtype, flat), dtype), [n, m], opts);
}

function random(op: string, dist: 'uniform' | 'normal', shape: readonly number[], opts: RandomOptions): Tensor {
  checkShape(op, shape);
  const { backend, dtype } = resolve(op, opts);
  if (!isFloat(dtype)) fail(op, `dtype must be a float dtype (float32, float64, float16, bfloat16), got ${dtype}`);
  const size = sizeOf(shape);
  let state: { seed: number; offset: number };
  if (opts.seed !== undefined) {
    checkSeed(op, opts.seed);
    state = { seed: opts.seed, offset: 0 };
  } else {
    state = nextRandomState(dist, size);
  }
  return make(backend.kernels.random(dist, dtype, size, state.seed, state.offset), shape, opts);
}

/** Uniform on [0, 1), from the Philox stream (see random.ts). */
export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return random('rand', 'uniform', shape, opts);
}

/** Standard normal, from the Philox stream (see random.ts). */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return random('randn', 'normal', shape, opts);
}
