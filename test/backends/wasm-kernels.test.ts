/**
 * The WebAssembly tier's kernels against references, on one thread and on three with every call
 * split (parallelMinFlops 0), with and without shared memory: matmul over every tile, block and
 * transpose edge; the float32 special functions against Math to a few ulp; and the same bits,
 * run after run and for every thread count.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { configureCpu, getBackend, initCpu, LorafaError, ops, optim, randn, tensor, type Tensor } from '../../src/index.ts';
import type { MatmulParams, Storage } from '../../src/backends/backend.ts';
import { CPU_TIERS } from '../helpers/cpu-tiers.ts';
import { filled } from '../helpers/filled.ts';

const cpu = getBackend('cpu');
type Dtype = 'float32' | 'float64';
const TIERS = CPU_TIERS.filter((t) => t.options.tier === 'wasm');

afterAll(() => configureCpu({ tier: 'wasm', threads: 1, parallelMinFlops: 2 ** 26, sharedMemory: true }));

interface Case { m: number; n: number; k: number; transA: boolean; transB: boolean; dtype: Dtype; batch?: number; shared?: 'a' | 'b' | 'none' }

/** The backend's matmul against the float64 triple loop: |c − ref| ≤ tol·Σ|a·b|, tol = 2k·2⁻²³ (float32) or 1e-13 (float64). */
function check(c: Case, seed = 1): void {
  const { m, n, k, transA, transB, dtype, batch = 1, shared = 'none' } = c;
  const a = filled(dtype, (shared === 'a' ? 1 : batch) * m * k, seed), b = filled(dtype, (shared === 'b' ? 1 : batch) * k * n, seed + 7);
  const p: MatmulParams = { batch, m, n, k, transA, transB, aBatchStride: shared === 'a' ? 0 : m * k, bBatchStride: shared === 'b' ? 0 : k * n };
  const [sa, sb] = [cpu.upload(a), cpu.upload(b)];
  const sc = cpu.kernels.matmul(sa, sb, p);
  const out = cpu.readSync!(sc);
  for (const s of [sa, sb, sc]) s.release();
  const tol = dtype === 'float32' ? 2 * Math.max(k, 1) * 2 ** -23 : 1e-13;
  for (let bi = 0; bi < batch; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let ref = 0, mag = 0;
        for (let l = 0; l < k; l++) {
          const x = a[bi * p.aBatchStride + (transA ? l * m + i : i * k + l)]! * b[bi * p.bBatchStride + (transB ? j * k + l : l * n + j)]!;
          ref += x;
          mag += Math.abs(x);
        }
        const got = out[(bi * m + i) * n + j]!;
        if (!(Math.abs(got - ref) <= tol * mag)) expect.fail(`${JSON.stringify(c)}: C[${bi}, ${i}, ${j}] = ${got}, expected ${ref} (bound ${tol * mag})`);
      }
    }
  }
}

const EDGE = [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 64, 127];

describe.each(TIERS)('matmul on $label', ({ options }) => {
  it('every edge size on each axis, every transpose, both dtypes', async () => {
    await initCpu(options);
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        EDGE.forEach((s, i) => {
          const o = EDGE[(i * 5 + 3) % EDGE.length]!, q = EDGE[(i * 7 + 1) % EDGE.length]!;
          check({ m: s, n: o, k: q, transA, transB, dtype });
          check({ m: o, n: s, k: q, transA, transB, dtype });
          check({ m: q, n: o, k: s, transA, transB, dtype });
        });
        // past one kc / nc / mc block, (XA)ᵀ·dY's shape, k = 0, batches with a shared operand
        check({ m: 211, n: 1100, k: 531, transA, transB, dtype });
        check({ m: 16, n: 200, k: 1300, transA, transB, dtype });
        check({ m: 5, n: 19, k: 0, transA, transB, dtype });
        for (const shared of ['none', 'a', 'b'] as const) {
          check({ m: 33, n: 17, k: 40, transA, transB, dtype, batch: 3, shared });
          check({ m: 1, n: 300, k: 77, transA, transB, dtype, batch: 2, shared });
          check({ m: 130, n: 1, k: 99, transA, transB, dtype, batch: 2, shared });
        }
      }
    }
  });
});

/** ulps between a float32 result and the float64 truth (rounded to float32 first). */
function ulps(got: number, truth: number): number {
  const t = Math.fround(truth);
  if (Object.is(got, t) || (Number.isNaN(got) && Number.isNaN(t))) return 0;
  if (!Number.isFinite(t) || !Number.isFinite(got)) return Infinity;
  const spacing = Math.max(2 ** -149, 2 ** (Math.floor(Math.log2(Math.max(Math.abs(t), 2 ** -126))) - 23));
  return Math.abs(got - t) / spacing;
}

describe('wasm float32 special functions against Math', () => {
  const xs = [0, -0, Infinity, -Infinity, NaN, 1e-30, -1e-30, 88.7, 88.8, -87, -103, -110, 200, -200];
  for (let x = -30; x <= 30; x += 0.0137) xs.push(x);
  xs.forEach((v, i) => (xs[i] = Math.fround(v))); // the float32 inputs the kernels see
  const x = tensor(xs);
  const run = (f: (t: Tensor) => Tensor): Float32Array => {
    configureCpu({ tier: 'wasm', threads: 1 });
    return f(x).dataSync() as Float32Array;
  };
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  const u = (v: number) => Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3);

  it('exp within 2 ulp (to its float32 overflow and into the subnormals), exact at the specials', () => {
    const got = run(ops.exp);
    xs.forEach((v, i) => {
      const truth = Math.exp(v);
      if (Math.abs(truth) < 2 ** -126) expect(Math.abs(got[i]! - truth), `exp(${v})`).toBeLessThan(2 ** -140);
      else expect(ulps(got[i]!, truth), `exp(${v}) = ${got[i]}`).toBeLessThanOrEqual(2);
    });
  });

  it('sigmoid, silu and gelu within 4 ulp or 1e-7 absolute; tanh within 1e-7 absolute', () => {
    const cases: [string, (t: Tensor) => Tensor, (v: number) => number, number][] = [
      ['sigmoid', ops.sigmoid, sigmoid, 0],
      ['silu', ops.silu, (v) => v * sigmoid(v), 0],
      ['gelu', ops.gelu, (v) => v * sigmoid(2 * u(v)), 0],
      ['tanh', ops.tanh, Math.tanh, 1e-7],
    ];
    for (const [name, f, ref, atol] of cases) {
      const got = run(f);
      xs.forEach((v, i) => {
        const truth = ref(v);
        if (Number.isNaN(truth)) return expect(got[i], `${name}(${v})`).toBeNaN();
        const ok = ulps(got[i]!, truth) <= 4 || Math.abs(got[i]! - truth) <= Math.max(atol, 1e-7);
        if (!ok) expect.fail(`${name}(${v}) = ${got[i]}, expected ${truth}`);
      });
    }
  });
});

/** One training step that uses every WebAssembly kernel; returns every output and gradient as bytes. */
function step(seed: number): Uint8Array[] {
  const x = randn([67, 48], { seed });
  const W = randn([48, 96], { seed: seed + 1, requiresGrad: true });
  const g = randn([96], { seed: seed + 2, requiresGrad: true });
  const b = randn([96], { seed: seed + 3, requiresGrad: true });
  const targets = tensor(Array.from({ length: 67 }, (_, i) => (i * 7) % 96), { dtype: 'int32' });
  const h = ops.gelu(ops.layerNorm(ops.matmul(x, W), g, b));
  const s = ops.softmax(ops.add(ops.mul(h, ops.sigmoid(h)), ops.tanh(h)), 1);
  const loss = ops.add(ops.crossEntropy(ops.mul(s, 3), targets), ops.mean(ops.exp(ops.neg(s))));
  loss.backward();
  const opt = new optim.AdamW([W, g, b], { lr: 0.01 });
  opt.step();
  const out = [loss, s, W.grad!, g.grad!, b.grad!, W, g, b].map((t) => new Uint8Array(t.dataSync().buffer.slice(0)));
  for (const t of [x, W, g, b, targets, W.grad!, g.grad!, b.grad!]) t.dispose();
  return out;
}

describe('determinism', () => {
  it('every kernel gives the same bits run after run and on 1, 2 or 3 threads, shared memory or not', async () => {
    const results: Uint8Array[][] = [];
    for (const [threads, sharedMemory] of [[1, true], [2, true], [3, true], [1, false]] as const) {
      await initCpu({ tier: 'wasm', threads, parallelMinFlops: 0, sharedMemory });
      results.push(step(5), step(5));
    }
    for (const r of results.slice(1)) r.forEach((bytes, i) => expect(bytes, `output ${i}`).toEqual(results[0]![i]));
  });
});

describe('options', () => {
  it('are checked: a LorafaError names the option', () => {
    expect(() => configureCpu({ tier: 'gpu' as never })).toThrow(LorafaError);
    expect(() => configureCpu({ tier: 'gpu' as never })).toThrow(/^configureCpu: tier is "gpu"; expected 'js' or 'wasm'/);
    expect(() => configureCpu({ threads: 0 })).toThrow(/^configureCpu: threads is 0; expected an integer ≥ 1/);
    expect(() => configureCpu({ parallelMinFlops: -1 })).toThrow(/parallelMinFlops is -1/);
    expect(() => configureCpu({ sharedMemory: 'yes' as never })).toThrow(/sharedMemory is "yes"/);
  });

  it('the JavaScript tier keeps plain typed arrays; the WebAssembly one keeps tensors in its heap and returns them to its pool', async () => {
    configureCpu({ tier: 'js' });
    const plain = randn([100]);
    expect((plain.storage as Storage<Float32Array>).handle.buffer).toBeInstanceOf(ArrayBuffer);
    const info = await initCpu({ tier: 'wasm', threads: 1, sharedMemory: true });
    expect(info).toMatchObject({ tier: 'wasm', threads: 1, sharedMemory: true, limits: [] });
    const before = info.heap!;
    const address = (x: Tensor) => (x.storage as Storage<Float32Array>).handle.byteOffset;
    const t = ops.mul(plain, 2);
    expect((t.storage as Storage<Float32Array>).handle.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(cpu.description).toBe('CPU (WebAssembly SIMD, 1 thread)');
    const at = address(t);
    t.dispose();
    const again = ops.mul(plain, 3); // the same size class: the block t had
    expect(address(again)).toBe(at);
    again.dispose();
    plain.dispose();
    const after = (await initCpu({})).heap!;
    expect([after.liveBlocks, after.liveBytes, after.memoryBytes]).toEqual([before.liveBlocks, before.liveBytes, before.memoryBytes]);
  });
});
