/**
 * The WebGPU matmul: the plan (which kernel, which split of k) on both sides of every threshold of
 * both adapter kinds; every generated variant forced, with and without split-K, on aligned and
 * ragged shapes, every transpose, batch strides and the whole epilogue; random products through
 * the backend's own choice (fast-check); split-K bit-identical across runs; the loop budget at the
 * edge of llvmpipe's cap; no buffer left behind. Results are checked against the CPU in float64
 * with a per-element bound: |got − exact| ≤ 2⁻²⁴·(16 + 4√k)·Σ|terms|.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MatmulParams, Storage } from '../../src/backends/backend.ts';
import { recordMatmul } from '../../src/backends/webgpu/kernels/matmul.ts';
import {
  chooseMatmul, MIN_CHUNK, planFor, SMALL, THIN, targetGroups, tiledLoops, vec4Ok, type AdapterKind, type Plan, type PlanOptions,
} from '../../src/backends/webgpu/kernels/matmul-plan.ts';
import { tiling, variant, VARIANTS } from '../../src/backends/webgpu/kernels/matmul-wgsl.ts';
import { mm, type Epilogue } from '../../src/autograd/ops/matmul.ts';
import { ops, randn, scope, tensor } from '../../src/index.ts';
import { randomValues } from '../helpers/check-op.ts';
import { cpu, skipReason, webgpu } from './gpu.ts';

const opts = (kind: AdapterKind): PlanOptions => ({ kind, targetGroups: targetGroups(kind, 2), maxLoop: kind === 'llvmpipe' ? 65535 : Infinity });
const LLVMPIPE = opts('llvmpipe'), GPU = opts('gpu');

function prob(m: number, n: number, k: number, transA = false, transB = false, batch = 1, strides: [number, number] = [1, 1]): MatmulParams {
  return { batch, m, n, k, transA, transB, aBatchStride: strides[0] * m * k, bBatchStride: strides[1] * k * n };
}
const TRANSPOSES = [[false, false], [true, false], [false, true], [true, true]] as const;

describe('matmul plans (both adapter kinds, both sides of every threshold)', () => {
  const plan = (p: MatmulParams, o: PlanOptions) => chooseMatmul(p, o);
  const name = (p: MatmulParams, o: PlanOptions) => plan(p, o).variant.name;

  it('a small output (m, n ≤ 64) takes 32×32 tiles; one row or column more goes through the other rules', () => {
    for (const o of [LLVMPIPE, GPU]) {
      expect(plan(prob(SMALL, SMALL, 64), o)).toMatchObject({ variant: { name: 'matmul-32x32' }, reason: 'm, n ≤ 64' });
      expect(name(prob(SMALL, SMALL, 63), o)).toBe('matmul-f32-32x32'); // k % 4 ≠ 0: f32 reads
      expect(plan(prob(SMALL + 1, SMALL, 64), o).reason).not.toBe('m, n ≤ 64');
      expect(plan(prob(SMALL, SMALL + 4, 64), o).reason).not.toBe('m, n ≤ 64');
      expect(name(prob(SMALL + 1, THIN, 64), o)).toMatch(/^matmul-thin-n/); // n ≤ 16 past the small output: thin-N
    }
  });

  it('n ≤ 16 takes a thin-N kernel, m ≤ 16 a thin-M one (per kind; f32 twins when vec4 cannot read)', () => {
    const m = 4096;
    expect(name(prob(m, THIN, 1024), LLVMPIPE)).toBe('matmul-thin-n-rows');
    expect(name(prob(m, THIN, 1024), GPU)).toBe('matmul-thin-n');
    expect(name(prob(m, THIN - 1, 1024), GPU)).toBe('matmul-f32-thin-n');
    expect(name(prob(m, THIN + 4, 1024), LLVMPIPE)).toMatch(/^matmul-(64x128|64x64|32x32)$/);
    expect(name(prob(THIN, m, 1024, true), LLVMPIPE)).toBe('matmul-thin-m-cols');
    expect(name(prob(THIN, m, 1024, true), GPU)).toBe('matmul-thin-m');
    expect(name(prob(THIN - 1, m, 1024, true), GPU)).toBe('matmul-f32-thin-m'); // a stored [k, m] with m % 4 ≠ 0
    expect(name(prob(THIN + 1, m, 1024), GPU)).toMatch(/^matmul-(128x128|64x64|32x32)$/);
  });

  it('general shapes take the largest tile with enough workgroups, at most half empty', () => {
    expect(name(prob(4096, 4096, 64), GPU)).toBe('matmul-128x128'); // 1024 workgroups
    expect(name(prob(1024, 1024, 64), GPU)).toBe('matmul-64x64'); //   128×128 gives 64 < 128
    expect(name(prob(256, 256, 64), GPU)).toBe('matmul-32x32'); //     fewer than 128 with any: the most
    expect(name(prob(256, 256, 64), LLVMPIPE)).toBe('matmul-64x128'); // 8 ≥ 4 workgroups
    expect(name(prob(128, 128, 64), LLVMPIPE)).toBe('matmul-64x64'); //  64×128 gives 2 < 4
    expect(name(prob(96, 200, 64), LLVMPIPE)).toBe('matmul-64x128'); // 2·2 workgroups, each at least half full
    expect(name(prob(100, 100, 63), LLVMPIPE)).toMatch(/^matmul-f32-/);
    expect(plan(prob(256, 256, 64), GPU).reason).toBe('fewer than 128 workgroups with any tile: the most');
  });

  it('splits k when too few workgroups and k ≥ 2·MIN_CHUNK, never otherwise', () => {
    for (const o of [LLVMPIPE, GPU]) {
      expect(plan(prob(THIN, 64, 2 * MIN_CHUNK - 4), o).splits).toBe(1);
      const p = plan(prob(THIN, 64, 2 * MIN_CHUNK), o);
      expect(p.splits).toBe(2);
      expect(p.kChunk % p.variant.TILE_K).toBe(0);
      expect(p.reason).toMatch(/split-K ×2 \(2 < \d+ workgroups\)$/);
    }
    expect(plan(prob(16, 1024, 4096, true), GPU)).toMatchObject({ splits: 16, kChunk: 256 }); // (XA)ᵀ·dY: 8 workgroups
    expect(plan(prob(4096, 16, 1024), GPU)).toMatchObject({ splits: 4, kChunk: 256 }); // X·A: 32 workgroups
    expect(plan(prob(4096, 4096, 4096), GPU).splits).toBe(1); // enough workgroups
    expect(plan(prob(8, 8, 1e6), GPU).splits).toBe(32); // at most MAX_SPLITS
  });

  it('splits further for the loop cap, and stops at one k tile per split', () => {
    const p = prob(3, 5, 5_000_001, false, true);
    const q = plan(p, LLVMPIPE);
    expect(q.splits).toBeGreaterThan(4);
    expect(tiledLoops(p, q.variant, q.splits, q.kChunk)).toBeLessThanOrEqual(65535);
    expect(q.reason).toMatch(/for the 65535-iteration loop cap$/);
    // past 65535 batch matrices the z loop grows as fast as the k loop shrinks: no split fits
    const deep = plan(prob(1, 1, 4096, false, false, 2 ** 31 / 4), LLVMPIPE);
    expect(deep.kChunk).toBe(deep.variant.TILE_K);
  });

  it('counts the loop budget: z loop, k loop, workgroup zero-init', () => {
    const v = variant('matmul-32x32');
    const t = tiling(v);
    const zeroInit = Math.ceil(t.AS_SIZE / t.THREADS) + 1 + Math.ceil(t.BS_SIZE / t.THREADS) + 1;
    expect(tiledLoops(prob(16, 16, 30000), v, 1, 30000)).toBe(2 + 1875 + 1 + zeroInit);
    expect(tiledLoops(prob(16, 16, 64, false, false, 65536), v, 1, 64)).toBe(3 + 2 * 5 + zeroInit); // two z iterations
    expect(tiledLoops(prob(16, 16, 0), v, 1, 0)).toBe(2 + 1 + zeroInit);
  });

  it('reads vec4 only when every row length and batch stride is a multiple of 4', () => {
    expect(vec4Ok(prob(8, 8, 8))).toBe(true);
    expect(vec4Ok(prob(8, 6, 8))).toBe(false);
    expect(vec4Ok(prob(6, 8, 8))).toBe(true);
    expect(vec4Ok(prob(6, 8, 8, true))).toBe(false);
    expect(vec4Ok(prob(8, 8, 6))).toBe(false);
    expect(vec4Ok(prob(8, 8, 6, true))).toBe(true);
    expect(vec4Ok(prob(8, 8, 6, true, true))).toBe(false);
    expect(vec4Ok({ ...prob(8, 8, 8), aBatchStride: 2 })).toBe(false);
  });
});

/** x as float64, for the CPU reference. */
const f64 = (x: ArrayLike<number>) => Float64Array.from(x);

interface Case {
  p: MatmulParams;
  alpha?: number;
  bias?: boolean;
  c?: boolean;
}

describe.skipIf(!webgpu)(`WebGPU matmul kernels ${skipReason}`, () => {
  const gpu = webgpu!;
  const host = cpu();
  let seed = 1;

  /** Runs a case on the GPU with `plan` (default: the backend's own choice) twice; checks both against float64 and each other. */
  async function check(cs: Case, plan?: Plan): Promise<void> {
    const { p } = cs;
    const A = randomValues((p.aBatchStride ? p.batch : 1) * p.m * p.k, seed++);
    const B = randomValues((p.bBatchStride ? p.batch : 1) * p.k * p.n, seed++);
    const bias = cs.bias ? randomValues(p.n, seed++) : null, C = cs.c ? randomValues(p.batch * p.m * p.n, seed++) : null;
    const alpha = cs.alpha ?? 1;
    // exact (float64) result and Σ|terms| per element
    const run64 = async (a: number[], b: number[], bb: number[] | null, cc: number[] | null, al: number) => {
      const s = [a, b, bb, cc].map((x) => x && host.upload(f64(x)));
      const out = host.kernels.matmul(s[0]!, s[1]!, p, { alpha: al, bias: s[2], c: s[3] });
      const r = await host.read(out);
      for (const x of [...s, out]) x?.release();
      return r;
    };
    const abs = (x: number[] | null) => x && x.map(Math.abs);
    const exact = await run64(A, B, bias, C, alpha);
    const mag = await run64(abs(A)!, abs(B)!, abs(bias), abs(C), Math.abs(alpha));
    const inputs = [A, B, bias, C].map((x) => x && gpu.upload(Float32Array.from(x)));
    const results: Float32Array[] = [];
    for (let rep = 0; rep < 2; rep++) {
      const epi = { alpha, bias: inputs[2], c: inputs[3] };
      const out: Storage = plan ? recordMatmul(gpu, inputs[0]!, inputs[1]!, p, epi, plan) : gpu.kernels.matmul(inputs[0]!, inputs[1]!, p, epi);
      results.push((await gpu.read(out)) as Float32Array);
      out.release();
    }
    for (const x of inputs) x?.release();
    const bound = 2 ** -24 * (16 + 4 * Math.sqrt(p.k));
    const what = () => `${JSON.stringify(cs)} with ${plan ? `${plan.variant.name} ×${plan.splits}` : 'the chosen plan'}`;
    for (let i = 0; i < exact.length; i++) {
      const err = Math.abs(results[0]![i]! - exact[i]!);
      if (!(err <= bound * mag[i]! + 1e-30)) expect.fail(`${what()}: element ${i} is ${results[0]![i]}, exact ${exact[i]} (bound ${bound * mag[i]!})`);
    }
    expect(results[1], `${what()}: two runs differ`).toEqual(results[0]);
  }

  it('every variant, forced, with and without split-K: aligned, ragged and 1×1 shapes, every transpose, batch strides, the epilogue', async () => {
    const live = gpu.memory().liveBuffers;
    for (const v of VARIANTS) {
      const { BM, BN } = tiling(v);
      const q = v.vec ? 4 : 1; // vec4 variants need multiples of 4 along the stored rows
      for (const [transA, transB] of TRANSPOSES) {
        for (const [m, n, k] of [[BM, BN, 2 * v.TILE_K], [BM + q * 3, BN - q, v.TILE_K + 3 * q], [q, q, q]] as const) {
          const p = prob(m, n, k, transA, transB, 2, [1, 0]);
          if (v.vec && !vec4Ok(p)) continue;
          for (const splits of [1, 3]) await check({ p, alpha: 1.5, bias: true, c: true }, planFor(p, v, splits));
        }
      }
    }
    expect(gpu.memory().liveBuffers).toBe(live); // split-K's partial products released
  });

  it('the backend\'s choice on both sides of each threshold (llvmpipe and GPU plans, both run here)', async () => {
    for (const [transA, transB] of TRANSPOSES) {
      for (const [m, n, k] of [[SMALL, SMALL, 64], [SMALL + 4, SMALL, 64], [256, THIN, 256], [256, THIN + 4, 256], [THIN, 256, 256],
        [THIN + 4, 256, 256], [THIN, 96, 2 * MIN_CHUNK - 4], [THIN, 96, 2 * MIN_CHUNK], [100, 84, 2 * MIN_CHUNK]] as const) {
        for (const dn of [0, 1]) {
          const p = prob(m, n + dn, k, transA, transB);
          await check({ p, alpha: -0.5, c: true });
          await check({ p, bias: true }, chooseMatmul(p, { ...GPU, maxLoop: gpu.matmulPlan.maxLoop }));
        }
      }
    }
  });

  it('the four LoRA-FA products at N = 1024, d = o = 256, r = 16, on both plans', async () => {
    for (const [p, epi] of [[prob(1024, 16, 256), {}], [prob(1024, 256, 16), { alpha: 2, c: true }], [prob(16, 256, 1024, true), { alpha: 0.5 }],
      [prob(1024, 16, 256, false, true), {}]] as const) {
      await check({ p, ...epi });
      await check({ p, ...epi }, chooseMatmul(p, { ...GPU, maxLoop: gpu.matmulPlan.maxLoop }));
    }
  });

  it('random products through the backend\'s choice: sizes 1 and across tile edges, transposes, batch strides, epilogues', async () => {
    const size = fc.constantFrom(1, 3, 4, 16, 17, 33, 63, 64, 65, 127, 128, 129);
    await fc.assert(fc.asyncProperty(size, size, fc.constantFrom(1, 4, 17, 64, 200, 600), fc.boolean(), fc.boolean(), fc.constantFrom(1, 3),
      fc.constantFrom<[number, number]>([1, 1], [1, 0], [0, 1]), fc.record({ alpha: fc.constantFrom(1, -2, 0.25), bias: fc.boolean(), c: fc.boolean() }),
      async (m, n, k, transA, transB, batch, strides, epi) => check({ p: prob(m, n, k, transA, transB, batch, strides), ...epi })), { numRuns: 25 });
  });

  it('k = 0 gives the epilogue alone; empty outputs record nothing', async () => {
    await check({ p: prob(5, 8, 0), alpha: 3, bias: true, c: true });
    const before = gpu.counters.dispatches;
    const [a, b] = [gpu.upload(new Float32Array(4)), gpu.upload(new Float32Array(4))];
    const out = gpu.kernels.matmul(a, b, prob(0, 4, 1));
    expect(out.size).toBe(0);
    expect(gpu.counters.dispatches).toBe(before);
    for (const s of [a, b, out]) s.release();
  });

  it('the loop budget is exact at llvmpipe\'s cap: the largest unsplit k runs exactly, one k tile more is refused', async () => {
    const cap = gpu.ctx.maxLoopIterations;
    if (!Number.isFinite(cap)) return; // a real GPU has no such cap
    const v = variant('matmul-thin-n');
    let k = cap * v.TILE_K;
    while (tiledLoops(prob(4, 4, k), v, 1, k) > cap) k -= v.TILE_K;
    const ones = gpu.upload(new Float32Array(4 * (k + v.TILE_K)).fill(1));
    const out = recordMatmul(gpu, ones, ones, prob(4, 4, k, false, true), {}, planFor(prob(4, 4, k, false, true), v));
    expect(Array.from(await gpu.read(out))).toEqual(new Array(16).fill(k));
    out.release();
    const over = prob(4, 4, k + v.TILE_K, false, true);
    const live = gpu.memory().liveBuffers;
    expect(() => recordMatmul(gpu, ones, ones, over, {}, planFor(over, v)))
      .toThrow(/^matmul-thin-n: this launch needs 65536 loop iterations per invocation \(each loop's iterations \+ 1, summed over its loops\), but this adapter ends all loops of an invocation after 65535/);
    expect(gpu.memory().liveBuffers).toBe(live);
    ones.release();
  });

  it('[16, 30000]·[30000, 16] of ones is 30000 everywhere (the old kernel returned 20160 there)', async () => {
    const a = tensor(new Float32Array(16 * 30000).fill(1), { shape: [16, 30000], device: 'webgpu' });
    const b = tensor(new Float32Array(30000 * 16).fill(1), { shape: [30000, 16], device: 'webgpu' });
    for (const [x, y, tA, tB] of [[a, b, false, false], [b, b, true, false], [a, a, false, true]] as const) {
      const out = ops.matmul(x, y, { transA: tA, transB: tB });
      expect(Array.from(await out.data())).toEqual(new Array(256).fill(30000));
      out.dispose();
    }
    a.dispose();
    b.dispose();
  });

  it('refuses an epilogue that does not fit, naming the shapes', () => {
    const x = randn([4, 3], { device: 'webgpu', seed: 1 }), w = randn([3, 5], { device: 'webgpu', seed: 2 });
    const bad: [Epilogue, RegExp][] = [
      [{ bias: randn([4], { device: 'webgpu' }) }, /^matmul: bias \[4\] \(float32, webgpu\) does not fit the product; expected shape \[5\], dtype float32 and device webgpu$/],
      [{ c: randn([5, 4], { device: 'webgpu' }) }, /^matmul: c \[5, 4\] .* expected shape \[4, 5\]/],
      [{ c: randn([4, 5]) }, /^matmul: c \[4, 5\] \(float32, cpu\) does not fit the product; .* device webgpu$/],
      [{ alpha: NaN }, /^matmul: alpha = NaN; expected a finite number$/],
    ];
    for (const [epi, message] of bad) {
      expect(() => scope(() => mm(x, w, false, false, epi))).toThrow(message);
      for (const t of [epi.bias, epi.c]) t?.dispose();
    }
    x.dispose();
    w.dispose();
  });
});
