/**
 * The CPU tiers' own 16-bit code: casts float32 ↔ float16/bfloat16 (the WebAssembly tier converts
 * between heap views, the JavaScript tier between host arrays) give half-float.ts's bits on every
 * tier, for any float32 pattern (NaN, ±Inf, subnormals); strided copies and row gathers move the
 * bit patterns as they are (wasm strided_2), NaN payloads included.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { initCpu, ops, tensor } from '../../src/index.ts';
import { decodeHalfArray, encodeHalfArray, type HalfDType } from '../../src/half-float.ts';
import { CPU_TIERS, wasmTier } from '../helpers/cpu-tiers.ts';

const HALF: HalfDType[] = ['float16', 'bfloat16'];

describe.each(CPU_TIERS)('16-bit kernels on the CPU tier $label', ({ options }) => {
  afterAll(async () => {
    await initCpu(wasmTier(1));
  });

  it.each(HALF)('cast float32 → %s → float32 gives the reference bits for any float32 pattern', async (dtype) => {
    await initCpu(options);
    fc.assert(fc.property(fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 300 }), (us) => {
      const xs = new Float32Array(Uint32Array.from(us).buffer);
      const half = ops.cast(tensor(xs), dtype), back = ops.cast(half, 'float32');
      const want = encodeHalfArray(dtype, xs);
      expect(Array.from(half.rawDataSync())).toEqual(Array.from(want));
      expect(Array.from(back.dataSync())).toEqual(Array.from(decodeHalfArray(dtype, want)));
      half.dispose();
      back.dispose();
    }), { numRuns: 30 });
  });

  it.each(HALF)('transpose, slice and embedding copy %s bit patterns as they are', async (dtype) => {
    await initCpu(options);
    const bits = Uint16Array.from({ length: 7 * 5 }, (_, i) => (i * 40503 + 0x7c01) & 0xffff); // NaN payloads among them
    const x = tensor(bits, { dtype, shape: [7, 5] });
    const t = ops.transpose(x).rawDataSync();
    for (let i = 0; i < 7; i++) for (let j = 0; j < 5; j++) expect(t[j * 7 + i]).toBe(bits[i * 5 + j]);
    expect(Array.from(ops.slice(x, 1, 1, 4).rawDataSync())).toEqual(Array.from({ length: 21 }, (_, k) => bits[Math.floor(k / 3) * 5 + 1 + (k % 3)]));
    expect(Array.from(ops.embedding(x, [6, 0]).rawDataSync())).toEqual([...bits.slice(30, 35), ...bits.slice(0, 5)]);
  });
});
