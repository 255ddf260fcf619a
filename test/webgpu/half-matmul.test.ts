/**
 * The fused 16-bit matmul (halfFused in kernels/matmul.ts): 16-bit tiles widened as they load,
 * the epilogue rounded once on store. Bit for bit what casting every operand to float32,
 * multiplying and casting back gives (withHalfPrecision's way), in one dispatch and no scratch,
 * over transposes, batches, epilogues and shapes across tile edges; shapes the vec4 kernels cannot
 * read, and split-K plans, take the widening path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MatmulEpilogue, MatmulParams, Storage } from '../../src/backends/backend.ts';
import { chooseMatmul } from '../../src/backends/webgpu/kernels/matmul-plan.ts';
import { encodeHalfArray, type HalfDType } from '../../src/half-float.ts';
import { skipReason, webgpu } from './gpu.ts';

const dim = fc.constantFrom(4, 8, 16, 20, 64, 68);

/** Values in [−4, 4) with 10 significant bits at most: exact in both formats' ranges, varied. */
function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((Math.imul(i + 1, 2654435761 + seed) >>> 0) % 8192) / 1024 - 4);
}

describe.skipIf(!webgpu)(`WebGPU fused 16-bit matmul ${skipReason}`, () => {
  const gpu = webgpu!;
  const k = gpu.kernels;

  /** out = alpha·op(a)·op(b) + bias + c the widening way: casts to float32, the float32 kernel, one cast back. */
  function widened(a: Storage, b: Storage, p: MatmulParams, epi: MatmulEpilogue, half: HalfDType): Storage {
    const w = (s: Storage | null | undefined) => (s ? k.cast(s, 'float32') : null);
    const [a32, b32, bias32, c32] = [w(a)!, w(b)!, w(epi.bias), w(epi.c)];
    const out32 = k.matmul(a32, b32, p, { alpha: epi.alpha, bias: bias32, c: c32 });
    const out = k.cast(out32, half);
    for (const s of [a32, b32, bias32, c32, out32]) s?.release();
    return out;
  }

  for (const half of ['float16', 'bfloat16'] as const) {
    it(`${half}: bit-identical to widen, multiply in float32, round once; one dispatch where the plan is vec4 without split-K`, async () => {
      let fusedRuns = 0;
      await fc.assert(fc.asyncProperty(
        fc.record({ m: dim, n: dim, kk: dim, batch: fc.constantFrom(1, 3), transA: fc.boolean(), transB: fc.boolean(), bias: fc.boolean(), c: fc.boolean(), alpha: fc.constantFrom(1, 0.5, -3), seed: fc.nat(100) }),
        async ({ m, n, kk, batch, transA, transB, bias, c, alpha, seed }) => {
          const p: MatmulParams = { batch, m, n, k: kk, transA, transB, aBatchStride: m * kk, bBatchStride: kk * n };
          const up = (size: number, s: number) => gpu.upload(encodeHalfArray(half, values(size, s)), half);
          const a = up(batch * m * kk, seed), b = up(batch * kk * n, seed + 1);
          const epi: MatmulEpilogue = { alpha, bias: bias ? up(n, seed + 2) : null, c: c ? up(batch * m * n, seed + 3) : null };
          const plan = chooseMatmul(p, gpu.matmulPlan);
          const fused = plan.variant.vec && plan.splits === 1;
          const live = gpu.memory().liveBuffers, d0 = gpu.counters.dispatches;
          const out = k.matmul(a, b, p, epi);
          if (fused) {
            expect(gpu.counters.dispatches - d0).toBe(1);
            fusedRuns++;
          }
          expect(gpu.memory().liveBuffers).toBe(live + 1);
          const ref = widened(a, b, p, epi, half);
          expect(out.dtype).toBe(half);
          expect(await gpu.read(out)).toEqual(await gpu.read(ref));
          for (const s of [a, b, epi.bias, epi.c, out, ref]) s?.release();
        }), { numRuns: 10 });
      expect(fusedRuns).toBeGreaterThan(0); // the fused kernels did run
    });
  }

  it('mixed operand dtypes (a 16-bit a, a float32 bias) take the widening path, which refuses float16 with bfloat16', () => {
    const a = gpu.upload(new Uint16Array(16), 'bfloat16'), b = gpu.upload(new Uint16Array(16), 'float16');
    const p: MatmulParams = { batch: 1, m: 4, n: 4, k: 4, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
    expect(() => k.matmul(a, b, p)).toThrow(/matmul: operands mix bfloat16 and float16/);
    a.release();
    b.release();
  });
});
