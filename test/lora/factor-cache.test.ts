/**
 * The Cholesky factor cache of the frozen LoRA matrices: computed once, in float64, invalidated
 * by in-place changes, and usable on a device that cannot be read synchronously (a stand-in for
 * WebGPU: the CPU kernels behind a backend with no readSync and no float64).
 */
import { describe, expect, it } from 'vitest';
import { getBackend, LorafaError, ops, randn, tensor, Tensor, zeros } from '../../src/index.ts';
import { CpuBackend } from '../../src/backends/cpu/cpu-backend.ts';
import type { Backend } from '../../src/backends/backend.ts';
import { registerBackend } from '../../src/backends/registry.ts';
import { loraFactor, loraFactorStats, prepareLoraFactor, primeLoraFactor, releaseLoraFactor } from '../../src/lora/factor-cache.ts';
import { Linear } from '../../src/nn/linear.ts';
import { LoraFaLinear, LoraFbLinear } from '../../src/lora/layers.ts';
import { expectClose } from '../helpers/allclose.ts';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const step = (A: Tensor) => {
  const B = randn([A.shape[1]!, 3], { seed: 5, dtype: A.dtype, parameter: true, requiresGrad: true });
  ops.loraFA(randn([4, A.shape[0]!], { seed: 6, dtype: A.dtype }), zeros([A.shape[0]!, 3], { dtype: A.dtype }), A, B, { scale: 2 }).sum().backward();
  return B.grad!.dataSync();
};

describe('factor cache', () => {
  it('factors AᵀA once per frozen A, however many steps use it', () => {
    const A = randn([6, 2], { seed: 1, parameter: true });
    const before = loraFactorStats().factorizations;
    const first = step(A);
    for (let i = 0; i < 4; i++) expect(step(A)).toEqual(first);
    expect(loraFactorStats().factorizations).toBe(before + 1);
  });

  it('an in-place change (assign, markModified) invalidates it: the next step refactors and uses the new A', () => {
    const A = randn([6, 2], { seed: 1, dtype: 'float64', parameter: true });
    const g1 = step(A);
    const before = loraFactorStats().factorizations;
    A.assign(ops.mul(A, 2)); // A → 2A: (AᵀA)⁻¹ shrinks 4×, the uncorrected g_B doubles: g̃_B halves
    const g2 = step(A);
    expect(loraFactorStats().factorizations).toBe(before + 1);
    expectClose(g2, g1.map((v) => v / 2), { atol: 1e-12, rtol: 1e-10 });
    A.markModified();
    step(A);
    expect(loraFactorStats().factorizations).toBe(before + 2);
  });

  it('is keyed by the shape too: a reshaped view of a cached A is another matrix with its own factor', () => {
    const A = randn([6, 2], { seed: 1, dtype: 'float64', parameter: true });
    const first = step(A);
    const view = A.reshape([4, 3]); // the same storage and version, another matrix
    expect(view.storage).toBe(A.storage);
    const copy = tensor(Array.from(A.dataSync()), { shape: [4, 3], dtype: 'float64', parameter: true });
    expectClose(step(view), step(copy), { atol: 1e-12, rtol: 1e-12 });
    expect(step(A)).toEqual(first); // back to [6, 2]: refactored, the same gradient
  });

  it('prepare and prime factor only a matrix not yet cached, and name themselves in errors', async () => {
    const A = randn([5, 2], { seed: 3, dtype: 'float64', parameter: true });
    const before = loraFactorStats().factorizations;
    await prepareLoraFactor(A, 'columns');
    await prepareLoraFactor(A, 'columns');
    primeLoraFactor('test', A, 'columns', 0, A.dataSync());
    expect(loraFactorStats().factorizations).toBe(before + 1);
    const B = randn([2, 5], { seed: 4, dtype: 'float64', parameter: true });
    primeLoraFactor('test', B, 'rows', 0, B.dataSync());
    primeLoraFactor('test', B, 'rows', 0, B.dataSync());
    expect(loraFactorStats().factorizations).toBe(before + 2);
    await expect(prepareLoraFactor(zeros([5]), 'columns')).rejects.toThrow(/^prepareLoraFactor: A \[5\] \(float32, cpu\) must be a matrix/);
    await expect(prepareLoraFactor(zeros([3, 2], { dtype: 'float64' }), 'columns')).rejects.toThrow(/^prepareLoraFactor: AᵀA of A \[3, 2\]/);
  });

  it('is keyed by the side too: one square matrix read as A (AᵀA) and as B (BBᵀ) has two factors', () => {
    const M = tensor([[1, 2], [0, 1]], { dtype: 'float64', parameter: true }); // MᵀM = [[1, 2], [2, 5]], MMᵀ = [[5, 2], [2, 1]]
    expect(Array.from(loraFactor('test', M, 'columns').dataSync())).toEqual([1, 0, 2, 1]);
    expectClose(loraFactor('test', M, 'rows').dataSync(), [Math.sqrt(5), 0, 2 / Math.sqrt(5), 1 / Math.sqrt(5)], { atol: 1e-15, rtol: 1e-15 });
  });

  it('is float64 on the CPU even for a float32 A, keyed by the ridge too, and can be released', () => {
    const A = randn([5, 3], { seed: 2, parameter: true });
    const L = loraFactor('test', A, 'columns');
    expect([L.dtype, L.shape, L.isParameter]).toEqual(['float64', [3, 3], true]);
    const values = A.dataSync();
    const gram00 = Array.from(values).filter((_, i) => i % 3 === 0).reduce((s, v) => s + v * v, 0);
    expect(L.dataSync()[0]).toBeCloseTo(Math.sqrt(gram00), 6); // L₀₀ = ‖A[:, 0]‖
    const before = loraFactorStats();
    const ridged = loraFactor('test', A, 'columns', 1);
    expect(ridged.dataSync()[0]).toBeCloseTo(Math.sqrt(gram00 + 1), 6);
    expect(loraFactorStats().factorizations).toBe(before.factorizations + 1);
    releaseLoraFactor(A);
    expect(loraFactorStats().cached).toBe(before.cached - 1);
    expect(() => loraFactor('test', A, 'columns', -1)).toThrow(/test: ridge = -1 is invalid/);
    expect(() => loraFactor('test', zeros([5]), 'columns')).toThrow(/test: A \[5\] \(float32, cpu\) must be a matrix/);
    expect(() => primeLoraFactor('test', A, 'columns', 0, [1, 2])).toThrow(/test: host copy has 2 values; expected 15 for A \[5, 3\]/);
  });

  it('a ridge too small for a singular AᵀA is refused with advice to enlarge it', () => {
    const A = tensor([[1, 1], [1, 1], [0, 0]], { dtype: 'float64', parameter: true });
    expect(() => loraFactor('test', A, 'columns', 1e-300)).toThrow(/test: AᵀA \+ 1e-300·I of A \[3, 2\] \(float64\) is (singular|ill-conditioned).*; use a larger ridge/);
    expect(loraFactor('test', A, 'columns', 0.1).dataSync().every(Number.isFinite)).toBe(true);
  });

  it('frees the factor of a matrix the garbage collector reclaimed', async () => {
    const collect = async () => {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 5)); // finalizers run as tasks after a collection
    };
    for (let i = 0; i < 3; i++) await collect(); // what earlier tests left to the collector goes first
    const before = loraFactorStats().cached;
    const liveBefore = getBackend('cpu').memory().liveBytes;
    (() => {
      const A = randn([5, 2], { seed: 7, dtype: 'float64', parameter: true });
      loraFactor('test', A, 'columns').dispose();
      A.dispose(); // the storage object stays until collected; so does its cache entry
    })();
    expect(loraFactorStats().cached).toBe(before + 1);
    for (let i = 0; i < 20 && loraFactorStats().cached > before; i++) await collect();
    expect(loraFactorStats().cached).toBe(before);
    expect(getBackend('cpu').memory().liveBytes).toBe(liveBefore); // the 2×2 float64 factor is freed too
  });

  it("the 'rows' side factors BBᵀ (LoRA-FB)", () => {
    const B = tensor([[3, 0, 4], [0, 2, 0]], { dtype: 'float64', parameter: true }); // BBᵀ = diag(25, 4)
    expect(loraFactor('test', B, 'rows').dataSync()).toEqual(Float64Array.from([5, 0, 0, 2]));
  });
});

describe('on a device without synchronous reads (a WebGPU stand-in)', () => {
  const gpu = new CpuBackend();
  Object.defineProperties(gpu, {
    device: { value: 'webgpu' },
    readSync: { value: undefined },
    read: { value: async (s: { handle: Float32Array }) => s.handle.slice() },
    supportsDtype: { value: (dtype: string) => dtype !== 'float64' },
  });
  registerBackend(gpu as unknown as Backend);
  const onGpu = (t: Tensor, requiresGrad = false) => new Tensor(gpu.upload(t.dataSync()), t.shape, { parameter: true, requiresGrad });

  it('a cold cache is an error that says what to do; after prepareLoraFactor the op runs and the factor is float32', async () => {
    const A = onGpu(randn([6, 2], { seed: 1 }));
    const x = onGpu(randn([4, 6], { seed: 2 })), W = onGpu(zeros([6, 3]));
    const run = () => {
      const B = onGpu(randn([2, 3], { seed: 3 }), true);
      ops.loraFA(x, W, A, B, { scale: 2 }).sum().backward();
      return B.grad!;
    };
    expect(run).toThrow(LorafaError);
    expect(run).toThrow(/loraFA: the factor of A \[6, 2\] \(float32, webgpu\) \(version 0\) is not cached.*await prepareLoraFactor\(A, 'columns'\)/);
    await prepareLoraFactor(A, 'columns');
    const g = await run().data();
    expect(loraFactor('test', A, 'columns').dtype).toBe('float32');
    await prepareLoraFactor(A, 'columns'); // warm: nothing to do
    const pending = prepareLoraFactor(A, 'columns', { ridge: 1 });
    A.markModified();
    await expect(pending).rejects.toThrow(/prepareLoraFactor: A \[6, 2\] \(float32, webgpu\) changed in place while it was being read/);
    // the same numbers as on the CPU
    const cpu = (t: Tensor, requiresGrad = false) => tensor(t.storage.handle as Float32Array, { shape: t.shape, parameter: true, requiresGrad });
    const Bc = cpu(onGpu(randn([2, 3], { seed: 3 })), true);
    ops.loraFA(cpu(x), cpu(W), cpu(A), Bc, { scale: 2 }).sum().backward();
    expectClose(g, Bc.grad!.dataSync(), { atol: 1e-5, rtol: 1e-5 });
  });

  it('LoRA-FA and LoRA-FB layers prime the cache at construction, so the first step needs no read-back', async () => {
    for (const Layer of [LoraFaLinear, LoraFbLinear]) {
      const base = new Linear(6, 4, { seed: 1, device: 'webgpu' });
      const layer = new Layer(base, { rank: 2, alpha: 4, seed: 7 });
      const before = loraFactorStats().factorizations;
      layer.forward(onGpu(randn([3, 6], { seed: 2 }))).sum().backward();
      expect(loraFactorStats().factorizations).toBe(before);
      const frozen = Layer === LoraFaLinear ? layer.A : layer.B;
      frozen.markModified();
      expect(() => layer.forward(onGpu(randn([3, 6], { seed: 2 }))).sum().backward()).toThrow(/await layer\.prepare\(\)/);
      await layer.prepare();
      layer.forward(onGpu(randn([3, 6], { seed: 2 }))).sum().backward();
      expect(loraFactorStats().factorizations).toBe(before + 1);
    }
  });
});

describe('a non-finite frozen factor', () => {
  it('is reported as NaN or ∞ at its position, not as a rank-deficient matrix', () => {
    const A = tensor([[1, 0], [0, NaN], [1, 1]], { parameter: true });
    expect(() => loraFactor('loraFA', A, 'columns')).toThrow('loraFA: A [3, 2] (float32) holds NaN at [1, 1]; expected finite values (a frozen A is fixed at initialisation)');
    const B = tensor([[Infinity, 0, 1]], { dtype: 'float64', parameter: true });
    expect(() => loraFactor('loraFB', B, 'rows')).toThrow('loraFB: B [1, 3] (float64) holds Infinity at [0, 0]; expected finite values');
  });
});
