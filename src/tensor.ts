import type { Backend, Storage } from './backends/backend.ts';
import { getBackend } from './backends/registry.ts';
import type { Context } from './autograd/function.ts';
import { runBackward, type BackwardOptions } from './autograd/engine.ts';
import { trackTensor } from './autograd/scope.ts';
import { registerTensorClass } from './autograd/tensor-class.ts';
import { cast } from './autograd/ops/cast.ts';
import * as ew from './autograd/ops/elementwise.ts';
import { matmul, type MatmulFlags } from './autograd/ops/matmul.ts';
import { logSoftmax, softmax } from './autograd/ops/nn.ts';
import { max, mean, sum, type Axes } from './autograd/ops/reduce.ts';
import { expand, permute, reshape, slice, transpose } from './autograd/ops/shape.ts';
import type { Operand } from './autograd/ops/util.ts';
import { isFloat, type DType, type Device, type TypedArray } from './dtype.ts';
import { decodeHalfArray, isHalf } from './half-float.ts';
import { describe, fail } from './errors.ts';
import { contiguousStrides, sizeOf, type NestedArray } from './shape.ts';

export type { NestedArray } from './shape.ts';

export interface TensorInit {
  requiresGrad?: boolean;
  /** Marks a weight: saving it for backward costs no activation memory (see saved.ts). */
  parameter?: boolean;
  /**
   * Internal: an alias held by an autograd context, which disposes it when it releases its graph:
   * not tracked by scope() and not watched by the garbage collector.
   */
  untracked?: boolean;
}

/** What a tensor holds: its storage reference and the autograd context that produced it. */
interface Held {
  storage: Storage;
  gradFn: Context | null;
}

/**
 * For tensors garbage-collected without dispose(): releases their storage and their graph. An
 * exception thrown here would escape to the event loop and end the process, so none leaves.
 */
const finalizer = new FinalizationRegistry<Held>((h) => {
  try {
    release(h);
  } catch (e) {
    console.error(`lorafa: releasing a garbage-collected tensor failed: ${(e as Error).message}`);
  }
});

function release(h: Held): void {
  h.storage.release();
  h.gradFn?.unref();
  h.gradFn = null;
}

/**
 * An n-dimensional array on one device, with autograd. Storage is contiguous row-major and
 * may be shared with views (reshape). `gradFn` is the autograd context that produced this
 * tensor (null for leaves); `grad` receives the gradient of leaves that require it.
 */
export class Tensor {
  readonly shape: readonly number[];
  private needsGrad = false;
  grad: Tensor | null = null;
  isParameter: boolean;
  /** Optional name (parameters get their module path). */
  name = '';
  private disposed = false;
  private readonly held: Held;

  constructor(readonly storage: Storage, shape: readonly number[], init: TensorInit = {}) {
    this.shape = Object.freeze([...shape]);
    this.isParameter = init.parameter ?? false;
    if (sizeOf(shape) !== storage.size) {
      fail('Tensor', `shape [${shape.join(', ')}] has ${sizeOf(shape)} elements but its storage holds ${storage.size}`);
    }
    this.held = { storage, gradFn: null };
    this.requiresGrad = init.requiresGrad ?? false;
    if (!init.untracked) {
      finalizer.register(this, this.held, this);
      trackTensor(this);
    }
  }

  /**
   * The autograd context that produced this tensor (null for leaves). The tensor holds a
   * reference to it: when the tensor is disposed (or collected) and no later op consumes it,
   * the context's saved tensors are released — a graph dropped without backward frees itself.
   */
  get gradFn(): Context | null {
    return this.held.gradFn;
  }

  set gradFn(ctx: Context | null) {
    ctx?.retain();
    this.held.gradFn?.unref();
    this.held.gradFn = ctx;
  }

  /** Whether autograd computes a gradient for this tensor; only floating-point tensors can. */
  get requiresGrad(): boolean {
    return this.needsGrad;
  }

  set requiresGrad(value: boolean) {
    if (value && !isFloat(this.dtype)) fail('requiresGrad', `${describe('tensor', this)} is not floating point; only float tensors (float32, float64, float16, bfloat16) have gradients`);
    this.needsGrad = value;
  }

  get dtype(): DType {
    return this.storage.dtype;
  }

  get device(): Device {
    return this.storage.backend.device;
  }

  get backend(): Backend {
    return this.storage.backend;
  }

  get size(): number {
    return this.storage.size;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Bumped by in-place writes; shared with views of the same storage. */
  get version(): number {
    return this.storage.version;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** Throws a clear error if this tensor was disposed; ops call it on every input. */
  assertAlive(op: string): void {
    if (this.disposed) fail(op, `${describe('input', this)} was disposed; a tensor cannot be used after dispose()`);
  }

  /**
   * Releases this handle's reference to the storage (freed when no view or saved graph holds
   * it) and to the context that produced it (its saved tensors are freed once no later op needs them).
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this);
    release(this.held);
  }

  /**
   * In place: copies src's values into this tensor (same shape, dtype and device) and bumps
   * the version, so caches derived from it (e.g. LoRA-FA's factor of AᵀA) are invalidated.
   */
  assign(src: Tensor): this {
    this.assertAlive('assign');
    src.assertAlive('assign');
    if (src.shape.length !== this.shape.length || src.shape.some((d, i) => d !== this.shape[i]) || src.dtype !== this.dtype || src.device !== this.device) {
      fail('assign', `${describe('src', src)} does not match ${describe('target', this)}; expected the same shape, dtype and device`);
    }
    if (src.storage === this.storage) return this; // assigning a tensor (or a view) to itself changes nothing
    this.backend.kernels.scatterStrided(this.storage, src.storage, { shape: this.shape, strides: contiguousStrides(this.shape), offset: 0 });
    this.markModified();
    return this;
  }

  /** Records an in-place change made by a kernel (optimizer steps call this). */
  markModified(): void {
    this.storage.version++;
  }

  /** A copy of the elements (asynchronous on WebGPU); float16 and bfloat16 come as their exact float32 values. */
  async data(): Promise<TypedArray> {
    this.assertAlive('data');
    return valuesOf(this.dtype, await this.backend.read(this.storage));
  }

  /** Synchronous copy of the elements; CPU only. float16 and bfloat16 come as their exact float32 values. */
  dataSync(): TypedArray {
    return valuesOf(this.dtype, this.rawDataSync('dataSync'));
  }

  /** A copy of the stored elements as they are: for float16 and bfloat16, the bit patterns (a Uint16Array). */
  async rawData(): Promise<TypedArray> {
    this.assertAlive('rawData');
    return this.backend.read(this.storage);
  }

  /** Synchronous rawData; CPU only. */
  rawDataSync(op = 'rawDataSync'): TypedArray {
    this.assertAlive(op);
    const read = this.backend.readSync;
    if (!read) fail(op, `${describe('tensor', this)} is not on the CPU; use \`await t.${op.replace('Sync', '')}()\``);
    return read.call(this.backend, this.storage);
  }

  async toArray(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  /** Synchronous toArray; CPU only. */
  toArraySync(): NestedArray {
    return nest(this.dataSync(), this.shape);
  }

  async item(): Promise<number> {
    this.checkScalar('item');
    return (await this.data())[0]!;
  }

  /** Synchronous item; CPU only. */
  itemSync(): number {
    this.checkScalar('itemSync');
    return this.dataSync()[0]!;
  }

  private checkScalar(op: string): void {
    if (this.size !== 1) fail(op, `${describe('tensor', this)} has ${this.size} elements; expected exactly 1`);
  }

  /**
   * A tensor sharing this storage, cut from the graph (no gradFn, requiresGrad false). Detaching
   * a weight keeps it a parameter: saving it holds no new memory.
   */
  detach(): Tensor {
    this.assertAlive('detach');
    this.storage.retain();
    return new Tensor(this.storage, this.shape, { parameter: this.isParameter });
  }

  /**
   * Backpropagates from this tensor: leaves that require grad accumulate into `.grad`.
   * gradient defaults to 1 for a one-element tensor. The graph's saved tensors are freed
   * afterwards unless retainGraph is set.
   */
  backward(gradient?: Tensor, options: BackwardOptions = {}): void {
    runBackward(this, gradient, options);
  }

  /** A copy on another device, as a new leaf with the same requiresGrad (asynchronous: reading from WebGPU is). */
  async to(device: Device): Promise<Tensor> {
    this.assertAlive('to');
    const target = getBackend(device);
    if (!target.supportsDtype(this.dtype)) {
      fail('to', `${describe('tensor', this)} cannot move to ${device}: ${device} does not support ${this.dtype}; cast to float32 first`);
    }
    const data = await this.rawData();
    const t = new Tensor(target.upload(data, this.dtype), this.shape, { requiresGrad: this.requiresGrad, parameter: this.isParameter });
    t.name = this.name;
    return t;
  }

  // Chainable ops (`x.matmul(W).tanh().sum()`): each is the op of the same name in `ops`.
  add(other: Operand): Tensor { return ew.add(this, other); }
  sub(other: Operand): Tensor { return ew.sub(this, other); }
  mul(other: Operand): Tensor { return ew.mul(this, other); }
  div(other: Operand): Tensor { return ew.div(this, other); }
  neg(): Tensor { return ew.neg(this); }
  pow(p: number): Tensor { return ew.pow(this, p); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  sqrt(): Tensor { return ew.sqrt(this); }
  abs(): Tensor { return ew.abs(this); }
  tanh(): Tensor { return ew.tanh(this); }
  sigmoid(): Tensor { return ew.sigmoid(this); }
  relu(): Tensor { return ew.relu(this); }
  gelu(options?: { approximate?: 'tanh' | 'none' }): Tensor { return ew.gelu(this, options); }
  silu(): Tensor { return ew.silu(this); }
  sum(axes?: Axes, keepdim?: boolean): Tensor { return sum(this, axes, keepdim); }
  mean(axes?: Axes, keepdim?: boolean): Tensor { return mean(this, axes, keepdim); }
  max(axes?: Axes, keepdim?: boolean): Tensor { return max(this, axes, keepdim); }
  reshape(shape: readonly number[]): Tensor { return reshape(this, shape); }
  permute(dims: readonly number[]): Tensor { return permute(this, dims); }
  transpose(dim0?: number, dim1?: number): Tensor { return transpose(this, dim0, dim1); }
  slice(axis: number, start: number, end: number): Tensor { return slice(this, axis, start, end); }
  expand(shape: readonly number[]): Tensor { return expand(this, shape); }
  matmul(other: Tensor, flags?: MatmulFlags): Tensor { return matmul(this, other, flags); }
  softmax(axis?: number): Tensor { return softmax(this, axis); }
  logSoftmax(axis?: number): Tensor { return logSoftmax(this, axis); }
  cast(dtype: DType): Tensor { return cast(this, dtype); }

  toString(): string {
    const flags = [this.requiresGrad ? 'requiresGrad' : '', this.isDisposed ? 'disposed' : ''].filter(Boolean).join(', ');
    return `Tensor(${describe('', this).trim()}${flags ? `, ${flags}` : ''})`;
  }
}

registerTensorClass(Tensor);

/** A host array's values: 16-bit bit patterns decoded to float32 (exact), other arrays as they are. */
function valuesOf(dtype: DType, data: TypedArray): TypedArray {
  return isHalf(dtype) ? decodeHalfArray(dtype, data as Uint16Array) : data;
}

function nest(data: TypedArray, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return data[0]!;
  const build = (axis: number, offset: number, stride: number): NestedArray[] => {
    const n = shape[axis]!;
    const inner = stride / n;
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(axis === shape.length - 1 ? data[offset + i]! : build(axis + 1, offset + i * inner, inner));
    }
    return out;
  };
  return build(0, 0, data.length);
}
