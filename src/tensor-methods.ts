/**
 * Chainable methods on Tensor (`x.matmul(W).tanh().sum()`), each a thin call to the op of the
 * same name in ops.ts. They are attached here rather than in tensor.ts so the Tensor class
 * does not import the ops (which import Tensor).
 */
import type { DType } from './dtype.ts';
import * as ops from './ops.ts';
import type { Operand } from './autograd/ops/elementwise.ts';
import type { MatmulFlags } from './autograd/ops/matmul.ts';
import type { Axes } from './autograd/ops/reduce.ts';
import { Tensor } from './tensor.ts';

declare module './tensor.ts' {
  interface Tensor {
    add(other: Operand): Tensor;
    sub(other: Operand): Tensor;
    mul(other: Operand): Tensor;
    div(other: Operand): Tensor;
    neg(): Tensor;
    pow(p: number): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    abs(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    gelu(options?: { approximate?: 'tanh' | 'none' }): Tensor;
    silu(): Tensor;
    sum(axes?: Axes, keepdim?: boolean): Tensor;
    mean(axes?: Axes, keepdim?: boolean): Tensor;
    max(axes?: Axes, keepdim?: boolean): Tensor;
    reshape(shape: readonly number[]): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    slice(axis: number, start: number, end: number): Tensor;
    expand(shape: readonly number[]): Tensor;
    matmul(other: Tensor, flags?: MatmulFlags): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    cast(dtype: DType): Tensor;
  }
}

const methods = {
  add(this: Tensor, o: Operand) { return ops.add(this, o); },
  sub(this: Tensor, o: Operand) { return ops.sub(this, o); },
  mul(this: Tensor, o: Operand) { return ops.mul(this, o); },
  div(this: Tensor, o: Operand) { return ops.div(this, o); },
  neg(this: Tensor) { return ops.neg(this); },
  pow(this: Tensor, p: number) { return ops.pow(this, p); },
  exp(this: Tensor) { return ops.exp(this); },
  log(this: Tensor) { return ops.log(this); },
  sqrt(this: Tensor) { return ops.sqrt(this); },
  abs(this: Tensor) { return ops.abs(this); },
  tanh(this: Tensor) { return ops.tanh(this); },
  sigmoid(this: Tensor) { return ops.sigmoid(this); },
  relu(this: Tensor) { return ops.relu(this); },
  gelu(this: Tensor, o?: { approximate?: 'tanh' | 'none' }) { return ops.gelu(this, o); },
  silu(this: Tensor) { return ops.silu(this); },
  sum(this: Tensor, axes?: Axes, keepdim?: boolean) { return ops.sum(this, axes, keepdim); },
  mean(this: Tensor, axes?: Axes, keepdim?: boolean) { return ops.mean(this, axes, keepdim); },
  max(this: Tensor, axes?: Axes, keepdim?: boolean) { return ops.max(this, axes, keepdim); },
  reshape(this: Tensor, shape: readonly number[]) { return ops.reshape(this, shape); },
  permute(this: Tensor, dims: readonly number[]) { return ops.permute(this, dims); },
  transpose(this: Tensor, d0?: number, d1?: number) { return ops.transpose(this, d0, d1); },
  slice(this: Tensor, axis: number, start: number, end: number) { return ops.slice(this, axis, start, end); },
  expand(this: Tensor, shape: readonly number[]) { return ops.expand(this, shape); },
  matmul(this: Tensor, o: Tensor, flags?: MatmulFlags) { return ops.matmul(this, o, flags); },
  softmax(this: Tensor, axis?: number) { return ops.softmax(this, axis); },
  logSoftmax(this: Tensor, axis?: number) { return ops.logSoftmax(this, axis); },
  cast(this: Tensor, dtype: DType) { return ops.cast(this, dtype); },
};

Object.assign(Tensor.prototype, methods);
