/**
 * The LoRA-family ops on their own: gradients against central differences, what each saves
 * (exact entries), and every bad-input error. The paper's claims are in claims.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getBackend, gradcheck, manualSeed, measureSaved, noGrad, ops, randn, tensor, Tensor, zeros } from '../../src/index.ts';
import { CpuBackend } from '../../src/backends/cpu/cpu-backend.ts';
import { adapterScale } from '../../src/lora/common.ts';
import { loraFactorStats } from '../../src/lora/factor-cache.ts';
import { dim, seed } from '../helpers/arbitraries.ts';
import { expectClose } from '../helpers/allclose.ts';
import { expectError } from '../helpers/errors.ts';
import { gaussJordan } from '../helpers/reference.ts';
import { scaleArb } from '../../src/verify/cases.ts';

const f64 = { dtype: 'float64' as const };
const param = (shape: number[], s: number, requiresGrad = false) => randn(shape, { ...f64, seed: s, parameter: true, requiresGrad });

describe('gradients against central differences (float64)', () => {
  const opts = { scale: 0.7 };
  it('linear, lora (with and without dropout), and the uncorrected loraFA / loraFB are true gradients, for σ of either sign and tiny', () => {
    fc.assert(fc.property(dim(5), dim(5), dim(5), seed, fc.constantFrom(0, 0.4), scaleArb, (N, d, o, s, p, scale) => {
      const r = Math.min(d, o);
      const x = randn([2, N, d], { ...f64, seed: s, requiresGrad: true }); // a batch axis: [2, N, d] is used as [2N, d]
      const W = param([d, o], s + 1, true), A = param([d, r], s + 2, true), B = param([r, o], s + 3, true);
      const b = randn([o], { ...f64, seed: s + 4, requiresGrad: true });
      const drop = { scale, dropout: p, seed: 11 };
      expect(gradcheck((x, W, b) => ops.linear(x, W, b), [x, W, b]).ok).toBe(true);
      expect(gradcheck((x, W, A, B) => ops.lora(x, W, A, B, drop), [x, W, A, B]).ok).toBe(true);
      W.requiresGrad = false;
      A.requiresGrad = false;
      expect(gradcheck((x, B) => ops.loraFA(x, W, A, B, { ...drop, correction: 'none' }), [x, B]).ok).toBe(true);
      A.requiresGrad = true;
      B.requiresGrad = false;
      expect(gradcheck((x, A) => ops.loraFB(x, W, A, B, { ...drop, correction: 'none' }), [x, A]).ok).toBe(true);
    }), { numRuns: 10 });
  });

  it('the bias option: y = op(…) + b (to rounding), and b\'s gradient (Σ over rows of dY) is true — lora, loraFA, loraFB, loraPro', () => {
    fc.assert(fc.property(dim(4), dim(4), dim(4), seed, fc.constantFrom(0, 0.4), (N, d, o, s, p) => {
      const r = Math.min(d, o);
      const x = randn([2, N, d], { ...f64, seed: s, requiresGrad: true });
      const W = param([d, o], s + 1), A = param([d, r], s + 2), B = param([r, o], s + 3, true);
      const bias = randn([o], { ...f64, seed: s + 4, requiresGrad: true });
      const o2 = { scale: -0.7, dropout: p, seed: 5 };
      const unbiased = noGrad(() => ops.loraFA(x, W, A, B, o2)).dataSync();
      const biased = noGrad(() => ops.loraFA(x, W, A, B, { ...o2, bias })).dataSync(), b = bias.dataSync();
      expectClose(biased, unbiased.map((v, i) => v + b[i % o]!), { atol: 1e-12, rtol: 1e-12 });
      expect(gradcheck((x, B, bias) => ops.loraFA(x, W, A, B, { ...o2, correction: 'none', bias }), [x, B, bias]).ok).toBe(true);
      expect(gradcheck((x, bias) => ops.loraFA(x, W, A, B, { ...o2, bias }), [x, bias]).ok).toBe(true); // B projected: x and b true
      expect(gradcheck((bias) => ops.loraPro(x, W, A, B, { ...o2, bias }), [bias]).ok).toBe(true);
      A.requiresGrad = true;
      expect(gradcheck((x, A, B, bias) => ops.lora(x, W, A, B, { ...o2, bias }), [x, A, B, bias]).ok).toBe(true);
      B.requiresGrad = false;
      expect(gradcheck((x, A, bias) => ops.loraFB(x, W, A, B, { ...o2, correction: 'none', bias }), [x, A, bias]).ok).toBe(true);
    }), { numRuns: 8 });
  });

  it('the corrected ops still give the true gradient of x (only B, or A, is projected)', () => {
    const x = randn([4, 5], { ...f64, seed: 1, requiresGrad: true });
    const W = param([5, 3], 2), A = param([5, 2], 3), B = param([2, 3], 4);
    expect(gradcheck((x) => ops.loraFA(x, W, A, B, opts), [x]).ok).toBe(true);
    expect(gradcheck((x) => ops.loraFB(x, W, A, B, opts), [x]).ok).toBe(true);
  });

  it('a rank-1 input [d] gives [o], the same as its [1, d] row', () => {
    const W = param([3, 2], 1), A = param([3, 1], 2), B = param([1, 2], 3);
    const x = tensor([1, -2, 0.5], f64);
    for (const op of [ops.lora, ops.loraFA, ops.loraFB] as const) {
      const y = op(x, W, A, B, opts);
      expect(y.shape).toEqual([2]);
      expectClose(y.dataSync(), op(x.reshape([1, 3]), W, A, B, opts).dataSync(), { atol: 0, rtol: 0 });
    }
    expect(ops.linear(x, W).shape).toEqual([2]);
  });

  it('loraFA with correction: gradB = (1/σ²)(AᵀA)⁻¹·g_B exactly as written in the docblock', () => {
    const x = randn([6, 4], { ...f64, seed: 5 }), dY = randn([6, 3], { ...f64, seed: 6 });
    const W = param([4, 3], 7), A = param([4, 2], 8);
    const grads = (correction: 'closed-form' | 'none') => {
      const B = param([2, 3], 9, true);
      ops.loraFA(x, W, A, B, { scale: 2.5, correction }).backward(dY);
      return B.grad!;
    };
    const AtA = ops.matmul(A, A, { transA: true });
    const expected = ops.mul(solve(AtA, grads('none')), 1 / 2.5 ** 2);
    expectClose(grads('closed-form').dataSync(), expected.dataSync(), { atol: 1e-12, rtol: 1e-10 });
  });
});

/** X with M·X = b for a small symmetric positive definite M (Gauss–Jordan, independent of the engine's Cholesky). */
function solve(M: Tensor, b: Tensor): Tensor {
  const [n] = M.shape as [number];
  const k = b.shape[1]!;
  return tensor(gaussJordan(Array.from(M.dataSync()), n, Array.from(b.dataSync()), k), { shape: [n, k], ...f64 });
}

describe('what each op saves', () => {
  const N = 5, d = 4, o = 3, r = 2;
  const entries = (fn: () => Tensor) => {
    const rep = measureSaved(fn);
    rep.result.sum().backward();
    return rep.entries.map((e) => [e.op, e.shape, e.kind, e.bytes]);
  };
  const x = () => randn([N, d], { ...f64, seed: 1 });
  const W = param([d, o], 2), A = param([d, r], 3), B = param([r, o], 4);

  it('linear: X for gradW, and W (0 bytes) when x needs a gradient', () => {
    W.requiresGrad = true;
    expect(entries(() => ops.linear(x(), W))).toEqual([['linear', [N, d], 'activation', N * d * 8]]);
    const xg = randn([N, d], { ...f64, seed: 1, requiresGrad: true });
    W.requiresGrad = false;
    expect(entries(() => ops.linear(xg, W))).toEqual([['linear', [d, o], 'parameter', 0]]);
  });

  it('lora: X and XA (N·(d + r)); loraFB: X and B; loraFA: XA and the r×r factor — with dropout too', () => {
    W.requiresGrad = false;
    for (const dropout of [0, 0.5]) {
      A.requiresGrad = true;
      B.requiresGrad = true;
      expect(entries(() => ops.lora(x(), W, A, B, { scale: 1, dropout }))).toEqual([
        ['lora', [N, d], 'activation', N * d * 8], ['lora', [N, r], 'activation', N * r * 8], ['lora', [r, o], 'parameter', 0],
      ]);
      B.requiresGrad = false;
      expect(entries(() => ops.loraFB(x(), W, A, B, { scale: 1, dropout }))).toEqual([
        ['loraFB', [N, d], 'activation', N * d * 8], ['loraFB', [r, r], 'parameter', 0], ['loraFB', [r, o], 'parameter', 0],
      ]);
      A.requiresGrad = false;
      B.requiresGrad = true;
      expect(entries(() => ops.loraFA(x(), W, A, B, { scale: 1, dropout }))).toEqual([
        ['loraFA', [N, r], 'activation', N * r * 8], ['loraFA', [r, r], 'parameter', 0],
      ]);
      expect(entries(() => ops.loraFA(x(), W, A, B, { scale: 1, dropout, correction: 'none' }))).toEqual([['loraFA', [N, r], 'activation', N * r * 8]]);
    }
  });

  it('nothing is saved, and no factor computed, when no gradient is needed', () => {
    const fresh = param([d, r], 30);
    const before = loraFactorStats().factorizations;
    const rep = measureSaved(() => noGrad(() => ops.loraFA(x(), W, fresh, B, { scale: 1 })));
    expect(rep.entries).toEqual([]);
    expect(loraFactorStats().factorizations).toBe(before);
    expect(rep.result.requiresGrad).toBe(false);
  });

  it('dropout: the same seed gives the same mask; no seed draws a new one each call', () => {
    B.requiresGrad = false;
    const y = (seed?: number) => ops.lora(x(), W, A, B, { scale: 1, dropout: 0.5, seed }).dataSync();
    expect(y(3)).toEqual(y(3));
    expect(y()).not.toEqual(y());
    expect(ops.lora(x(), W, A, B, { scale: 1, dropout: 0 }).dataSync()).toEqual(ops.lora(x(), W, A, B, { scale: 1 }).dataSync());
  });

  it('dropout 0 draws nothing from the global generator, and its seed is not read', () => {
    A.requiresGrad = false;
    const next = (op?: () => unknown) => {
      manualSeed(7);
      op?.();
      return randn([4]).dataSync();
    };
    for (const run of [() => ops.loraFA(x(), W, A, B, { scale: 1, dropout: 0 }), () => ops.lora(x(), W, A, B, { scale: 1, dropout: 0, seed: -1 })]) {
      expect(next(run)).toEqual(next());
    }
  });
});

describe('no copies, no leaks', () => {
  const N = 6, d = 4, o = 3, r = 2;
  it('without dropout the adapter reads x itself: x saved by linear and lora is counted once', () => {
    const x = randn([N, d], { ...f64, seed: 1 });
    const Wt = param([d, o], 2, true), W = param([d, o], 3), A = param([d, r], 4, true), B = param([r, o], 5, true);
    const rep = measureSaved(() => ops.add(ops.linear(x, Wt), ops.lora(x, W, A, B, { scale: 1, dropout: 0 })));
    expect(rep.bytes).toBe((N * d + N * r) * 8); // x once, XA
    rep.result.dispose();
  });

  it('lora with only B trained keeps XA and no X: N·r elements', () => {
    const x = randn([N, d], { ...f64, seed: 1 });
    const rep = measureSaved(() => ops.lora(x, param([d, o], 2), param([d, r], 3), param([r, o], 4, true), { scale: -1 }));
    expect(rep.bytes).toBe(N * r * 8);
    expect(rep.entries.map((e) => [e.shape, e.kind])).toEqual([[[N, r], 'activation']]); // no W, A, B either: x needs no gradient
    rep.result.dispose();
  });

  it('forward and backward of lora, loraFA and loraFB free every intermediate: live bytes back to the start', () => {
    const cpu = getBackend('cpu');
    const x = randn([N, d], { ...f64, seed: 1, requiresGrad: true });
    const W = param([d, o], 2), A = param([d, r], 3), B = param([r, o], 4);
    for (const [op, trained] of [[ops.lora, B], [ops.loraFA, B], [ops.loraFB, A]] as const) {
      trained.requiresGrad = true;
      op(x, W, A, B, { scale: -0.5, correction: 'none' }).dispose(); // warm: nothing cached with correction 'none'
      const before = cpu.memory().liveBytes;
      const y = op(x, W, A, B, { scale: -0.5, dropout: 0.25, seed: 3, correction: 'none' });
      const loss = y.sum();
      loss.backward();
      for (const t of [x.grad!, trained.grad!, y, loss]) t.dispose();
      x.grad = null;
      trained.grad = null;
      trained.requiresGrad = false;
      expect(cpu.memory().liveBytes, op.name).toBe(before);
    }
  });
});

describe('adapterScale', () => {
  it('σ = α/r, or α/√r with rsLoRA', () => {
    expect(adapterScale(16, 8, false)).toBe(2);
    expect(adapterScale(16, 4, true)).toBe(8);
    expect(adapterScale(-3, 9, true)).toBe(-1);
  });
});

describe('bad input: a clear LorafaError for each', () => {
  const x = zeros([3, 4], f64), W = zeros([4, 5], { ...f64, parameter: true });
  const A = randn([4, 2], { ...f64, seed: 1, parameter: true }), B = randn([2, 5], { ...f64, seed: 2, parameter: true, requiresGrad: true });
  const fa = (...args: Parameters<typeof ops.loraFA>) => () => ops.loraFA(...args);

  it('shapes: x features, W rank, A rows, B columns, A/B rank disagreement', () => {
    const shapes = 'expected x [..., d], W [d, o], A [d, r], B [r, o]';
    expectError(fa(zeros([3, 3], f64), W, A, B, { scale: 1 }), 'loraFA', 'shapes do not fit', 'x [3, 3] (float64, cpu)', shapes);
    expectError(fa(x, zeros([4], f64), A, B, { scale: 1 }), 'loraFA', 'W [4] (float64, cpu)', shapes);
    expectError(fa(x, W, zeros([3, 2], f64), B, { scale: 1 }), 'loraFA', 'shapes do not fit', 'A [3, 2] (float64, cpu)', shapes);
    expectError(fa(x, W, A, zeros([2, 4], f64), { scale: 1 }), 'loraFA', 'shapes do not fit', 'B [2, 4] (float64, cpu)', shapes);
    expectError(() => ops.lora(x, W, A, zeros([3, 5], f64), { scale: 1 }), 'lora', 'shapes do not fit', 'A [4, 2] (float64, cpu)', 'B [3, 5] (float64, cpu)');
    // a factor of rank 3 whose first two sizes fit: only the rank check sees it
    expectError(fa(x, W, zeros([4, 2, 1], f64), B, { scale: 1 }), 'loraFA', 'shapes do not fit', 'A [4, 2, 1] (float64, cpu)', shapes);
    expectError(fa(x, W, A, zeros([2, 5, 1], f64), { scale: 1 }), 'loraFA', 'shapes do not fit', 'B [2, 5, 1] (float64, cpu)', shapes);
    expectError(() => ops.linear(x, zeros([3, 5], f64)), 'linear', 'expected x [..., d], W [d, o]');
    expectError(() => ops.linear(x, W, zeros([4], f64)), 'linear', 'bias [4] (float64, cpu)', 'expected shape [5]');
    for (const [name, op] of [['lora', ops.lora], ['loraFA', ops.loraFA], ['loraPro', ops.loraPro]] as const) {
      expectError(() => op(x, W, A, B, { scale: 1, bias: zeros([4], f64) }), name, 'bias [4] (float64, cpu) does not fit W [4, 5] (float64, cpu)', 'expected shape [5] and dtype float64');
      expectError(() => op(x, W, A, B, { scale: 1, bias: zeros([5]) }), name, 'bias [5] (float32, cpu)', 'dtype float64');
    }
    expectError(() => ops.loraFB(x, W, A, zeros([2, 5], f64), { scale: 1, bias: zeros([1, 5], f64) }), 'loraFB', 'bias [1, 5] (float64, cpu)', 'expected shape [5]');
  });

  it('rank r < 1 or r > min(d, o)', () => {
    expectError(() => ops.loraFB(x, W, zeros([4, 0], f64), zeros([0, 5], f64), { scale: 1 }), 'loraFB', 'rank r = 0', '1 ≤ r ≤ min(d, o) = 4');
    const wide = zeros([4, 2], f64);
    expectError(() => ops.lora(x, wide, zeros([4, 3], f64), zeros([3, 2], f64), { scale: 1 }), 'lora', 'rank r = 3', 'A [4, 3] (float64, cpu)', 'min(d, o) = 2');
  });

  it('dtypes: mixed float widths and integer inputs', () => {
    expectError(fa(x, W, zeros([4, 2]), B, { scale: 1 }), 'loraFA', 'dtypes differ', 'A [4, 2] (float32, cpu)', 'x [3, 4] (float64, cpu)');
    expectError(() => ops.linear(zeros([3, 4], { dtype: 'int32' }), zeros([4, 5], { dtype: 'int32' })), 'linear', 'not floating point');
  });

  it('devices: every input on one device', () => {
    const other = new CpuBackend(); // a stand-in device: the CPU kernels under another name
    Object.defineProperty(other, 'device', { value: 'webgpu' });
    const elsewhere = new Tensor(other.upload(new Float64Array(8)), [4, 2], { parameter: true });
    expectError(fa(x, W, elsewhere, B, { scale: 1 }), 'loraFA', 'inputs are on different devices', '[4, 2] (float64, webgpu)', 'expected one device');
  });

  it('frozen factors: loraFA refuses a trainable A or W, loraFB a trainable B or W', () => {
    const trainable = (t: Tensor) => randn(t.shape, { ...f64, seed: 3, requiresGrad: true });
    expectError(fa(x, W, trainable(A), B, { scale: 1 }), 'loraFA', 'A [4, 2] (float64, cpu) requires grad', 'LoRA-FA keeps A and W frozen and trains only B');
    expectError(fa(x, trainable(W), A, B, { scale: 1 }), 'loraFA', 'W [4, 5] (float64, cpu) requires grad');
    expectError(() => ops.loraFB(x, W, A, B, { scale: 1 }), 'loraFB', 'B [2, 5] (float64, cpu) requires grad', 'LoRA-FB keeps B and W frozen and trains only A');
    expectError(() => ops.loraFB(x, trainable(W), A, zeros([2, 5], f64), { scale: 1 }), 'loraFB', 'W [4, 5] (float64, cpu) requires grad');
  });

  it('options: scale, dropout, correction, ridge, seed', () => {
    expectError(fa(x, W, A, B, { scale: 0 }), 'loraFA', 'scale = 0 is invalid');
    expectError(fa(x, W, A, B, { scale: NaN }), 'loraFA', 'scale = NaN');
    expectError(fa(x, W, A, B, undefined as never), 'loraFA', 'expected an options object');
    expectError(fa(x, W, A, B, { scale: 1, dropout: 1 }), 'loraFA', 'dropout = 1 is out of range', '0 ≤ p < 1');
    expectError(fa(x, W, A, B, { scale: 1, correction: 'exact' as never }), 'loraFA', "correction = 'exact' is unknown");
    expectError(fa(x, W, A, B, { scale: 1, ridge: -1 }), 'loraFA', 'ridge = -1 is invalid', 'λ ≥ 0');
    expect(fa(x, W, A, B, { scale: 1, dropout: 0.5, seed: -1 })).toThrow(/loraFA: seed must be an integer/);
    // each bound of each range, and the checks of the op itself, not the factor cache's (no factor with correction 'none')
    expectError(fa(x, W, A, B, null as never), 'loraFA', 'expected an options object');
    expectError(() => ops.loraFB(x, W, A, B, { scale: 0 }), 'loraFB', 'scale = 0 is invalid');
    expectError(() => ops.lora(x, W, A, B, { scale: 0 }), 'lora', 'scale = 0 is invalid');
    expectError(fa(x, W, A, B, { scale: 1, dropout: -0.1 }), 'loraFA', 'dropout = -0.1 is out of range', '0 ≤ p < 1');
    expectError(fa(x, W, A, B, { scale: 1, ridge: -1, correction: 'none' }), 'loraFA', 'ridge = -1 is invalid');
    expectError(fa(x, W, A, B, { scale: 1, ridge: Infinity, correction: 'none' }), 'loraFA', 'ridge = Infinity is invalid');
    expectError(fa(x, W, A, B, { scale: 1, ridge: NaN, correction: 'none' }), 'loraFA', 'ridge = NaN is invalid');
  });

  it('a rank-deficient A is refused naming the condition estimate, unless a ridge is given', () => {
    const deficient = tensor([[1, 2], [2, 4], [3, 6], [0, 0]], { ...f64, parameter: true }); // column 2 = 2·column 1
    expectError(fa(x, W, deficient, B, { scale: 1 }), 'loraFA', 'AᵀA of A [4, 2] (float64)', /singular|ill-conditioned/, 'condition estimate', '{ ridge: λ }');
    expectError(fa(x, W, zeros([4, 2], { ...f64, parameter: true }), B, { scale: 1 }), 'loraFA', 'is singular (A is rank-deficient)', 'condition estimate ∞');
    const nearly = tensor([[1, 1], [0, 1e-7], [0, 0], [0, 0]], { dtype: 'float32', parameter: true });
    const f32 = (t: Tensor) => ops.cast(t, 'float32');
    const B32 = randn([2, 5], { seed: 2, parameter: true, requiresGrad: true });
    expectError(() => ops.loraFA(f32(x), f32(W), nearly, B32, { scale: 1 }), 'loraFA', 'ill-conditioned: condition estimate', 'exceeds 8.39e+5 (0.1/ε for float32)');
    const ridged = () => {
      const Bt = randn([2, 5], { ...f64, seed: 2, parameter: true, requiresGrad: true });
      ops.loraFA(randn([3, 4], { ...f64, seed: 4 }), W, deficient, Bt, { scale: 1, ridge: 0.5 }).sum().backward();
      return Bt.grad!;
    };
    expect(ridged().dataSync().every(Number.isFinite)).toBe(true);
  });
});
