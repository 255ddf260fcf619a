/** Every differentiable op, as plain functions (the `ops` namespace of the public API). */
export { add, sub, mul, div, neg, pow, exp, log, sqrt, abs, tanh, sigmoid, relu, gelu, silu } from './autograd/ops/elementwise.ts';
export { sum, mean, max } from './autograd/ops/reduce.ts';
export { reshape, permute, transpose, slice, concat, expand } from './autograd/ops/shape.ts';
export { matmul } from './autograd/ops/matmul.ts';
export { softmax, logSoftmax, layerNorm, crossEntropy, embedding, dropout } from './autograd/ops/nn.ts';
export { eq, gt, where, maskedFill } from './autograd/ops/select.ts';
export { cast } from './autograd/ops/cast.ts';
export { linear } from './autograd/ops/linear.ts';
export { lora } from './lora/lora-op.ts';
export { loraFA, loraFB } from './lora/frozen-ops.ts';
export { loraPro, type LoraProOptions } from './lora/lora-pro.ts';
export { dora, type DoraOptions } from './lora/dora.ts';
export { vera, type VeraOptions } from './lora/vera.ts';
export type { LoraOptions, LoraFrozenOptions } from './lora/common.ts';
