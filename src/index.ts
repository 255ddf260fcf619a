/** lorafa: the public API (re-exports only). */

export { Tensor, type NestedArray } from './tensor.ts';
export type { DType, Device } from './dtype.ts';
export { LorafaError } from './errors.ts';
export { tensor, zeros, ones, full, arange, eye, rand, randn, type CreateOptions, type RandomOptions } from './factories.ts';
export { manualSeed } from './random.ts';
export { noGrad, isGradEnabled } from './autograd/grad-mode.ts';
export { detectAnomaly, setDetectAnomaly, isAnomalyDetectionEnabled } from './autograd/anomaly.ts';
export { scope, keep } from './autograd/scope.ts';
export { measureSaved, savedStats, resetSavedPeak, withModule, type SavedEntry, type SavedReport } from './autograd/saved.ts';
export { graphOf, toDot, toMermaid, savedLines, type AutogradGraph, type GraphNode, type GraphEdge, type GraphSaved } from './autograd/graph.ts';
export { checkpoint, selectiveCheckpoint, recomputeEverything, recomputeAttentionScores, type CheckpointPolicy, type SaveInfo } from './autograd/checkpoint.ts';
export { profileMemory, type MemoryEvent, type MemoryPeak, type MemoryProfile } from './autograd/profile.ts';
export { gradcheck, type GradcheckOptions, type GradcheckResult } from './autograd/gradcheck.ts';
export { Function, Context } from './autograd/function.ts';
export { getBackend, useBackend, defaultDevice } from './backends/registry.ts';
export type { Backend, Kernels, AllocationStats } from './backends/backend.ts';
export { configureCpu, cpuInfo, initCpu, type CpuInfo, type CpuOptions, type CpuTier, type HeapStats } from './backends/cpu/cpu-backend.ts';
export { initWebGpu } from './backends/webgpu/index.ts';
export type { AdapterReport, GpuCounters, GpuProvider, PoolStats, WebGpu, WebGpuOptions } from './backends/webgpu/index.ts';
export * as ops from './ops.ts';
export * as linalg from './linalg/index.ts';
export * as memory from './memory/index.ts';
export { prepareLoraFactor, releaseLoraFactor, loraFactorStats } from './lora/factor-cache.ts';
export * as nn from './nn/index.ts';
export * as optim from './optim/index.ts';
export { serializeSafetensors, parseSafetensors, type SafetensorsContent } from './io/safetensors.ts';
export { peftAdapterState, applyPeftAdapter, type PeftAdapter, type LoadPeftOptions } from './lora/peft-format.ts';
