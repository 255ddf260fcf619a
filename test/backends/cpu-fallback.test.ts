/**
 * The CPU backend's fallbacks, with the engine's WebAssembly features replaced: without SIMD the
 * JavaScript tier runs (and cpuInfo says why); without shared memory the WebAssembly tier runs on
 * one thread whatever was asked, its operands copied in and out, with the same results.
 */
import { describe, expect, it, vi } from 'vitest';

const features = vi.hoisted(() => ({ simd128: true, sharedMemory: true }));
vi.mock('../../src/backends/cpu/wasm/asm/features.ts', () => ({ detectFeatures: () => ({ ...features }) }));

const { CpuBackend } = await import('../../src/backends/cpu/cpu-backend.ts');

/** [2, 3]·[3, 2] on a backend: its output's elements. */
function product(b: InstanceType<typeof CpuBackend>): number[] {
  const a = b.upload(new Float32Array([1, 2, 3, 4, 5, 6])), w = b.upload(new Float32Array([1, -1, 0.5, 2, -3, 0]));
  const c = b.kernels.matmul(a, w, { batch: 1, m: 2, n: 2, k: 3, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
  const out = Array.from(b.readSync(c));
  for (const s of [a, w, c]) s.release();
  return out;
}

describe('CPU fallbacks', () => {
  it('without WebAssembly SIMD: the JavaScript tier, one thread, and the reason in cpuInfo', async () => {
    features.simd128 = false;
    const b = new CpuBackend();
    const info = await b.init({ tier: 'wasm', threads: 2 });
    expect(info).toMatchObject({ tier: 'js', threads: 1, sharedMemory: false, heap: null });
    expect(info.limits).toEqual(['this engine has no WebAssembly SIMD: the JavaScript tier runs instead']);
    expect(b.description).toBe('CPU (JavaScript, 1 thread)');
    expect(product(b)).toEqual([-7, 3, -11.5, 6]);
  });

  it('without shared memory: the WebAssembly tier on one thread (two asked), operands copied, the same product', async () => {
    features.simd128 = true;
    features.sharedMemory = false;
    const b = new CpuBackend();
    const info = await b.init({ tier: 'wasm', threads: 2 });
    expect(info).toMatchObject({ tier: 'wasm', threads: 1, sharedMemory: false });
    expect(info.limits.join('\n')).toMatch(/no shared memory .*one thread, operands copied in and out/);
    expect(b.description).toBe('CPU (WebAssembly SIMD, 1 thread, no shared memory)');
    expect(product(b)).toEqual([-7, 3, -11.5, 6]); // the first call also allocates the GEMM's packing scratch, kept
    const before = b.info().heap!.liveBytes;
    expect(product(b)).toEqual([-7, 3, -11.5, 6]);
    expect(b.info().heap!.liveBytes).toBe(before); // staged operands and the output's block went back to the pool
  });
});
