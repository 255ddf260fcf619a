import { BYTES_PER_ELEMENT, type DType, type Device, type TypedArray } from '../dtype.ts';

/**
 * A contiguous, row-major buffer owned by one backend. Tensors hold storages; several tensors
 * may share one (reshape is a view). `refs` counts the holders: tensors and autograd contexts
 * that saved it. The buffer is returned to its backend when the count reaches zero.
 * `version` counts in-place writes, so caches derived from a tensor (e.g. the Cholesky
 * factor of AᵀA) can tell that it changed.
 */
export class Storage<H = unknown> {
  private static nextId = 1;
  readonly id = Storage.nextId++;
  refs = 1;
  version = 0;

  constructor(
    readonly backend: Backend,
    readonly dtype: DType,
    readonly size: number,
    public handle: H,
  ) {}

  get bytes(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  get freed(): boolean {
    return this.refs <= 0;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) return;
    this.refs--;
    if (this.refs === 0) this.backend.free(this);
  }
}

/** Live and peak bytes of a backend's allocations (whole-program memory, not only saved tensors). */
export interface AllocationStats {
  liveBuffers: number;
  liveBytes: number;
  peakBytes: number;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu'
  | 'gelu' | 'geluErf' | 'silu' | 'pow';

/**
 * What each unary op's gradient needs: its input x, its output y, or nothing.
 * `unaryGrad(op, saved, gradOut)` is given that tensor.
 */
export const UNARY_GRAD_NEEDS: Readonly<Record<UnaryOp, 'input' | 'output' | 'none'>> = {
  neg: 'none',
  exp: 'output', //  dx = g·y
  log: 'input', //   dx = g/x
  sqrt: 'output', // dx = g/(2y)
  abs: 'input', //   dx = g·sign(x)
  tanh: 'output', // dx = g·(1 − y²)
  sigmoid: 'output', // dx = g·y·(1 − y)
  relu: 'output', // dx = g·[y > 0]
  gelu: 'input', //  tanh approximation
  geluErf: 'input',
  silu: 'input', //  dx = g·s·(1 + x·(1 − s)), s = sigmoid(x)
  pow: 'input', //   dx = g·p·x^(p−1)
};

/** eq and gt give 1 or 0. */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'eq' | 'gt';
export type ReduceOp = 'sum' | 'max';

export interface MatmulParams {
  /** Number of independent products; out is [batch, m, n]. */
  batch: number;
  m: number;
  n: number;
  k: number;
  /** a is stored [k, m] instead of [m, k]: the kernel reads aᵀ without copying. */
  transA: boolean;
  /** b is stored [n, k] instead of [k, n]. */
  transB: boolean;
  /** Elements between consecutive batch matrices of a (0: a is shared by every batch). */
  aBatchStride: number;
  bBatchStride: number;
}

/** A strided view: element [i0, i1, ...] of `shape` sits at offset + Σ iₖ·strides[k]. */
export interface StridedView {
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
}

export interface SgdParams {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * Every kernel, once, in the groups both backends implement in same-named files (cpu/kernels/*.ts,
 * webgpu/kernels/*.ts), so a missing kernel is a compile error. Kernels allocate and return new
 * storages and never change their inputs, except where a kernel says "in place". Shapes are
 * passed as numbers; all buffers are contiguous row-major. Float kernels keep the dtype of their
 * inputs; int32 inputs are indices.
 */
export interface ElementwiseKernels {
  /** out[i] = value, [size]. */
  full(dtype: DType, size: number, value: number): Storage;
  /** Elementwise dtype conversion. */
  cast(x: Storage, dtype: DType): Storage;
  /** y = f(x) elementwise; `param` is the exponent of pow. */
  unary(op: UnaryOp, x: Storage, param: number): Storage;
  /** dx = gradOut · f'(·), given the tensor UNARY_GRAD_NEEDS[op] names (for 'none', gradOut itself). */
  unaryGrad(op: UnaryOp, saved: Storage, gradOut: Storage, param: number): Storage;
  /**
   * out = x ∘ value (or value ∘ x with valueFirst) for a number: the same as binary with a
   * one-element tensor of x's dtype holding value (value is rounded to that dtype first).
   */
  binaryScalar(op: BinaryOp, x: Storage, value: number, valueFirst: boolean): Storage;
  /** out = a ∘ b with numpy broadcasting: a is aShape, b is bShape, out is outShape. */
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage;
  /** out = cond ≠ 0 ? a : b, all three broadcast to outShape. */
  where(cond: Storage, condShape: readonly number[], a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage;
}

export interface LayoutKernels {
  /** Copies the strided view of x into a new contiguous storage of view.shape (permute, slice, expand). */
  gatherStrided(x: Storage, view: StridedView): Storage;
  /** In place: writes contiguous src (of view.shape) into dst at the strided view (concat, slice backward). */
  scatterStrided(dst: Storage, src: Storage, view: StridedView): void;
}

/** What matmul adds to the product in the same pass: out = alpha·op(a)·op(b) + bias + c. */
export interface MatmulEpilogue {
  /** Scales the product (default 1). */
  alpha?: number;
  /** [n], added to every row of every batch matrix. */
  bias?: Storage | null;
  /** [batch, m, n], added as it is (Y = X·W + σ·(XA)·B is one pass with c = X·W, alpha = σ). */
  c?: Storage | null;
}

export interface MatmulKernels {
  /** out [batch, m, n] = alpha·op(a)·op(b) + bias + c; see MatmulParams and MatmulEpilogue. */
  matmul(a: Storage, b: Storage, p: MatmulParams, epilogue?: MatmulEpilogue): Storage;
}

export interface ReduceKernels {
  /** x viewed as [outer, len, inner]; out [outer, inner] = reduce over the middle axis. */
  reduce(op: ReduceOp, x: Storage, outer: number, len: number, inner: number): Storage;
}

export interface NnKernels {
  /** Row-wise softmax (or log-softmax when log) of x [rows, cols]. */
  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage;
  /** dx from the forward output y [rows, cols]: softmax: y·(g − Σg·y); log: g − exp(y)·Σg. */
  softmaxGrad(y: Storage, gradOut: Storage, rows: number, cols: number, log: boolean): Storage;

  /** y = (x − mean)·rstd·gamma + beta over the last axis of x [rows, cols]; mean, rstd are [rows]. */
  layerNorm(x: Storage, gamma: Storage | null, beta: Storage | null, rows: number, cols: number, eps: number): { y: Storage; mean: Storage; rstd: Storage };
  /** Gradients of layerNorm: gradX, and with `affine` gradGamma and gradBeta [cols] (null without: a frozen layer norm). */
  layerNormGrad(x: Storage, gamma: Storage | null, mean: Storage, rstd: Storage, gradOut: Storage, rows: number, cols: number, affine: boolean):
    { gradX: Storage; gradGamma: Storage | null; gradBeta: Storage | null };

  /**
   * Per-row cross entropy of logits [rows, classes] against int32 targets [rows]:
   * loss[i] = lse[i] − logits[i, t[i]], and valid[i] = 1, or both 0 where t[i] = ignoreIndex.
   * A target outside [0, classes) that is not ignoreIndex gives loss NaN.
   */
  crossEntropy(logits: Storage, targets: Storage, rows: number, classes: number, ignoreIndex: number): { loss: Storage; lse: Storage; valid: Storage };
  /** dlogits = (softmax(logits) − onehot(t))·scale[0] on valid rows, 0 on ignored ones; scale is a 1-element storage. */
  crossEntropyGrad(logits: Storage, lse: Storage, targets: Storage, scale: Storage, rows: number, classes: number, ignoreIndex: number): Storage;

  /** out [n, dim] = table[indices[i], :]; indices int32 [n] (embedding lookup). */
  gatherRows(table: Storage, indices: Storage, n: number, dim: number): Storage;
  /** out [rows, dim] = Σ over i with indices[i] = row of src[i, :] (embedding backward). */
  scatterAddRows(src: Storage, indices: Storage, n: number, rows: number, dim: number): Storage;
}

export interface RandomKernels {
  /** Counter-based random numbers (Philox-4x32-10, see random.ts): element i is a pure function of (seed, offset, i). */
  random(dist: 'uniform' | 'normal', dtype: DType, size: number, seed: number, offset: number): Storage;
  /** out = keep ? x/(1 − p) : 0, keep from (seed, offset, i); the same call on gradOut is the backward. */
  dropout(x: Storage, p: number, seed: number, offset: number): Storage;
}

export interface LinalgKernels {
  /** X [r, cols] solving L·Lᵀ·X = rhs, with L [r, r] lower-triangular (the LoRA-FA correction). */
  cholSolve(L: Storage, rhs: Storage, r: number, cols: number): Storage;
}

export interface OptimKernels {
  /** In place: decoupled-weight-decay Adam step on param, with its moment buffers m and v. */
  adamwStep(param: Storage, grad: Storage, m: Storage, v: Storage, p: AdamWParams): void;
  /** In place: SGD with optional momentum buffer (null when momentum = 0). */
  sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): void;
}

export interface Kernels extends ElementwiseKernels, LayoutKernels, MatmulKernels, ReduceKernels, NnKernels, RandomKernels, LinalgKernels, OptimKernels {}

export interface Backend {
  readonly device: Device;
  /** The adapter or CPU description, for reports. */
  readonly description: string;
  readonly kernels: Kernels;
  supportsDtype(dtype: DType): boolean;
  /** A new storage holding a copy of data; dtype is required for a Uint16Array (float16 or bfloat16 bits). */
  upload(data: TypedArray, dtype?: DType): Storage;
  /** Copies a storage back to the host. */
  read(s: Storage): Promise<TypedArray>;
  /** Synchronous read, where the backend can do it (CPU); undefined elsewhere. */
  readSync?(s: Storage): TypedArray;
  /** Returns the buffer to the backend; called by Storage.release. */
  free(s: Storage): void;
  memory(): AllocationStats;
  resetPeak(): void;
}
