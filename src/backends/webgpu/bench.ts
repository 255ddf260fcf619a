/**
 * Timing helpers for bench/speed.ts's WebGPU column: a square matmul and one LoRA-FA
 * forward + backward step. Each timed repetition ends by waiting for the GPU (a read-back of a
 * one-element result), so the times include the GPU work, not only its recording. The first
 * run compiles the pipelines and is not timed. On llvmpipe these are sanity numbers only.
 */
import { scope } from '../../autograd/scope.ts';
import { randn } from '../../factories.ts';
import { prepareLoraFactor } from '../../lora/factor-cache.ts';
import * as ops from '../../ops.ts';
import type { Tensor } from '../../tensor.ts';
import { initWebGpu, type WebGpuOptions } from './init.ts';

export interface WebGpuTiming {
  /** The adapter, as backend.description reports it. */
  adapter: string;
  /** Median milliseconds per repetition. */
  ms: number;
  /** Floating-point throughput of the timed work (2 flops per multiply-add). */
  gflops: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Runs step() once untimed, then `reps` times; each run waits for one element of its result to
 * come back (the GPU has then finished the step) and disposes the result.
 */
async function time(reps: number, step: () => Tensor): Promise<number> {
  const run = async (): Promise<number> => {
    const t0 = performance.now();
    const out = step();
    const probe = scope(() => ops.slice(ops.reshape(out, [-1]), 0, 0, 1));
    out.dispose();
    await probe.data();
    probe.dispose();
    return performance.now() - t0;
  };
  await run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(await run());
  return median(times);
}

/** out [n, n] = a [n, n]·b [n, n] in float32 on WebGPU. */
export async function timeWebGpuMatmul(n = 512, reps = 5, options?: WebGpuOptions): Promise<WebGpuTiming> {
  const backend = await initWebGpu(options);
  const a = randn([n, n], { device: 'webgpu', seed: 1 }), b = randn([n, n], { device: 'webgpu', seed: 2 });
  const ms = await time(reps, () => ops.matmul(a, b));
  a.dispose();
  b.dispose();
  return { adapter: backend.description, ms, gflops: (2 * n ** 3) / (ms * 1e6) };
}

export interface LoraShape {
  /** Rows (batch × sequence), input features, output features, rank. */
  N: number;
  d: number;
  o: number;
  r: number;
}

/**
 * One LoRA-FA training step's compute on WebGPU: y = x·W + σ·(x·A)·B forward, backward from a
 * fixed upstream gradient to B (the closed-form projected gradient); W and A frozen.
 */
export async function timeWebGpuLoraFaStep(shape: LoraShape = { N: 512, d: 512, o: 512, r: 8 }, reps = 5, options?: WebGpuOptions): Promise<WebGpuTiming> {
  const backend = await initWebGpu(options);
  const { N, d, o, r } = shape;
  const x = randn([N, d], { device: 'webgpu', seed: 1 });
  const W = randn([d, o], { device: 'webgpu', seed: 2, parameter: true });
  const A = randn([d, r], { device: 'webgpu', seed: 3, parameter: true });
  const B = randn([r, o], { device: 'webgpu', seed: 4, parameter: true, requiresGrad: true });
  const dY = randn([N, o], { device: 'webgpu', seed: 5 });
  await prepareLoraFactor(A, 'columns');
  const ms = await time(reps, () => {
    scope(() => ops.loraFA(x, W, A, B, { scale: 2 }).backward(dY));
    const gradB = B.grad!;
    B.grad = null;
    return gradB;
  });
  for (const t of [x, W, A, B, dY]) t.dispose();
  // forward: x·W, x·A, (xA)·B; backward: (xA)ᵀ·dY (the r×r solve is negligible)
  const flops = 2 * N * (d * o + d * r + r * o) + 2 * N * r * o;
  return { adapter: backend.description, ms, gflops: flops / (ms * 1e6) };
}
