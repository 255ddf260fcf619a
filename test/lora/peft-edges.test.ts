/**
 * Edges of the PEFT methods (DoRA, VeRA, LoRA-Pro, LoRA+, LoRA-GA's gradient pass), each check
 * written for a mutant that survived the rest of the suite (docs/verification.md, "Survivors"):
 * which inputs need a gradient, what is saved and freed, options and messages, state restored.
 */
import { describe, expect, it } from 'vitest';
import { getBackend, LorafaError, measureSaved, noGrad, ops, randn, tensor, type Tensor } from '../../src/index.ts';
import { DoraLinear } from '../../src/lora/dora-layer.ts';
import { loraFactorStats } from '../../src/lora/factor-cache.ts';
import { fullGradients } from '../../src/lora/lora-ga.ts';
import { loraPlusGroups } from '../../src/lora/loraplus.ts';
import { LoraFaLinear } from '../../src/lora/layers.ts';
import { VeraLinear, VeraProjections } from '../../src/lora/vera-layer.ts';
import { Linear } from '../../src/nn/linear.ts';
import { expectClose } from '../helpers/allclose.ts';
import { expectError } from '../helpers/errors.ts';
import { One } from '../helpers/one-linear.ts';

const f64 = { dtype: 'float64' as const };
const cpu = getBackend('cpu');
const linear = (d: number, o: number, s: number, bias = true) => new Linear(d, o, { dtype: 'float64', seed: s, bias });


/** DoRA as a generic graph: x·V·diag(m/n), V = W + σAB, n = ‖V‖_col (a constant when detached). */
function doraGraph(x: Tensor, W: Tensor, A: Tensor, B: Tensor, m: Tensor, scale: number, detach: boolean): Tensor {
  const V = ops.add(W, ops.mul(ops.matmul(A, B), scale));
  const norm = ops.sqrt(ops.sum(ops.mul(V, V), [0]));
  const n = detach ? norm.detach() : norm;
  return ops.matmul(x, ops.mul(V, ops.div(m, n)));
}

describe('ops.dora', () => {
  const [N, d, r, o, scale] = [3, 4, 2, 3, -0.7];
  const make = (needs: string) => ({
    x: randn([N, d], { ...f64, seed: 1, requiresGrad: needs.includes('x') }),
    W: randn([d, o], { ...f64, seed: 2, parameter: true }),
    A: randn([d, r], { ...f64, seed: 3, parameter: true, requiresGrad: needs.includes('A') }),
    B: randn([r, o], { ...f64, seed: 4, parameter: true, requiresGrad: needs.includes('B') }),
    m: tensor(Array.from(randn([o], { ...f64, seed: 5 }).dataSync(), (v) => v + 3), { ...f64, parameter: true }),
  });

  it('each gradient is the same whichever other inputs need one, with and without the detached norm', () => {
    const subsets = ['x', 'A', 'B', 'm', 'xA', 'AB', 'Bm', 'xm', 'xAB', 'xABm'];
    for (const detach of [false, true]) {
      for (const needs of subsets) {
        const t = make(needs), u = make(needs);
        t.m.requiresGrad = needs.includes('m');
        u.m.requiresGrad = needs.includes('m');
        const dY = randn([N, o], { ...f64, seed: 6 });
        ops.dora(t.x, t.W, t.A, t.B, t.m, { scale, detachNorm: detach }).backward(dY);
        doraGraph(u.x, u.W, u.A, u.B, u.m, scale, detach).backward(dY);
        for (const k of ['x', 'A', 'B', 'm'] as const) {
          if (!needs.includes(k)) continue;
          expectClose(t[k].grad!.dataSync(), u[k].grad!.dataSync(), { atol: 1e-12, rtol: 1e-10 });
        }
      }
    }
  });

  it('saves DV [N, o] only for m, or for A and B through a live norm: X and XA when detached, nothing for x alone', () => {
    const bytes = (needs: string, detach: boolean) => {
      const t = make(needs);
      t.m.requiresGrad = needs.includes('m');
      const report = measureSaved(() => ops.dora(t.x, t.W, t.A, t.B, t.m, { scale, detachNorm: detach }));
      report.result.dispose();
      return report.bytes / 8;
    };
    expect(bytes('AB', true)).toBe(N * d + N * r);
    expect(bytes('AB', false)).toBe(N * d + N * r + N * o);
    expect(bytes('x', false)).toBe(0);
    expect(bytes('m', true)).toBe(N * o);
  });

  it('frees every intermediate of forward and backward', () => {
    const t = make('xABm');
    t.m.requiresGrad = true;
    const before = cpu.memory().liveBytes;
    const y = ops.dora(t.x, t.W, t.A, t.B, t.m, { scale, dropout: 0.5, seed: 1 });
    y.backward(randn([N, o], { ...f64, seed: 6 }));
    y.dispose();
    for (const k of ['x', 'A', 'B', 'm'] as const) t[k].grad!.dispose();
    expect(cpu.memory().liveBytes).toBe(before + 8 * N * o); // only dY, still held here (a column-norm [o] leaked before the fix)
  });

  it('refuses a magnitude that is not a vector, options that are not an object, and names what it trains', () => {
    const t = make('A');
    expectError(() => ops.dora(t.x, t.W, t.A, t.B, randn([o, 1], f64), { scale }), 'dora', `m [${o}, 1] (float64, cpu) does not fit`);
    expectError(() => ops.dora(t.x, t.W, t.A, t.B, t.m, null as never), 'dora', 'expected an options object');
    const W = randn([d, o], { ...f64, seed: 2, requiresGrad: true });
    expect(() => ops.dora(t.x, W, t.A, t.B, t.m, { scale })).toThrow(
      `dora: W [${d}, ${o}] (float64, cpu) requires grad, but DoRA keeps W frozen and trains only A, B and m; set W.requiresGrad = false (or use ops.lora to train both factors)`);
    expect(() => ops.loraPro(t.x, W, t.A, t.B, { scale })).toThrow(
      `loraPro: W [${d}, ${o}] (float64, cpu) requires grad, but LoRA-Pro keeps W frozen and trains only A and B; set W.requiresGrad = false (or use ops.lora to train both factors)`);
  });
});

describe('ops.loraPro', () => {
  it('frees every intermediate of forward and backward, and names itself in option errors', () => {
    const x = randn([3, 4], { ...f64, seed: 1, requiresGrad: true });
    const W = randn([4, 3], { ...f64, seed: 2, parameter: true });
    const A = randn([4, 2], { ...f64, seed: 3, parameter: true, requiresGrad: true });
    const B = randn([2, 3], { ...f64, seed: 4, parameter: true, requiresGrad: true });
    ops.loraPro(x, W, A, B, { scale: 2 }).dispose(); // the factors are cached from here on
    const before = cpu.memory().liveBytes;
    const dY = randn([3, 3], { ...f64, seed: 5 });
    const y = ops.loraPro(x, W, A, B, { scale: 2, dropout: 0.5, seed: 1 });
    y.backward(dY);
    for (const t of [y, dY, x.grad!, A.grad!, B.grad!]) t.dispose();
    expect(cpu.memory().liveBytes).toBe(before);
    expectError(() => ops.loraPro(x, W, A, B, { scale: 0 }), 'loraPro', 'scale = 0 is invalid');
  });


  it('factors nothing when only x needs a gradient, and shares B\'s factor with LoRA-FB', () => {
    const x = randn([3, 4], { ...f64, seed: 1, requiresGrad: true });
    const W = randn([4, 3], { ...f64, seed: 2, parameter: true });
    const A = randn([4, 2], { ...f64, seed: 3, parameter: true });
    const B = randn([2, 3], { ...f64, seed: 4, parameter: true });
    const before = loraFactorStats().factorizations;
    ops.loraPro(x, W, A, B, { scale: 2 }).dispose();
    expect(loraFactorStats().factorizations).toBe(before);
    A.requiresGrad = true; //  LoRA-Pro's g̃_A needs (AᵀA)⁻¹ and (BBᵀ)⁻¹
    ops.loraPro(x, W, A, B, { scale: 2 }).dispose();
    expect(loraFactorStats().factorizations).toBe(before + 2);
    ops.loraFB(x, W, A, B, { scale: 2 }).dispose(); // LoRA-FB's (BBᵀ)⁻¹: the same factor, cached
    expect(loraFactorStats().factorizations).toBe(before + 2);
  });
});

describe('DoRA layer', () => {
  it('refuses correction, no options at all and a bad rank, naming DoraLinear; its norm is live by default', () => {
    expectError(() => new DoraLinear(linear(6, 4, 3), { rank: 2, alpha: 2, correction: 'closed-form' }), 'DoraLinear', 'correction and ridge do not apply to DoRA');
    expect(() => new DoraLinear(linear(6, 4, 3), undefined as never)).toThrow(LorafaError);
    expect(() => new DoraLinear(linear(6, 4, 3), { rank: 0, alpha: 2 })).toThrow(/^DoraLinear: /);
    expect(new DoraLinear(linear(6, 4, 3), { rank: 2, alpha: 2 }).detachNorm).toBe(false);
  });

  it('without a bias computes the base output at init', () => {
    const base = linear(5, 3, 2, false), x = randn([2, 5], { ...f64, seed: 1 });
    const y0 = base.forward(x).dataSync();
    expectClose(new DoraLinear(base, { rank: 2, alpha: 2, seed: 1 }).forward(x).dataSync(), y0, { atol: 1e-14 });
  });

  it('while merged, effectiveWeight() is the merged W; m changed in place since merge() is named by unmerge()', () => {
    const layer = new DoraLinear(linear(5, 3, 2), { rank: 2, alpha: 2, initB: 'gaussian', seed: 1 });
    const W1 = layer.effectiveWeight().dataSync();
    layer.merge();
    expectClose(layer.effectiveWeight().dataSync(), W1, { atol: 1e-14 });
    noGrad(() => layer.m.assign(ops.mul(layer.m, 2)));
    expect(() => layer.unmerge()).toThrow(/m \[3\] \(float64, cpu\) changed in place since merge\(\)/);
  });

  it('sgdDirection() with only m trained is V·diag(g_m/n); with no gradient it says so', () => {
    const layer = new DoraLinear(linear(5, 3, 2), { rank: 2, alpha: 2, initB: 'gaussian', seed: 1 });
    expectError(() => layer.sgdDirection(), 'DoraLinear', 'sgdDirection(): A, B and m have no gradient; expected a backward first');
    layer.A.requiresGrad = false;
    layer.B.requiresGrad = false;
    layer.forward(randn([4, 5], { ...f64, seed: 2 })).backward(randn([4, 3], { ...f64, seed: 3 }));
    expect([layer.A.grad, layer.B.grad]).toEqual([null, null]);
    const V = ops.add(layer.base.weight, ops.mul(ops.matmul(layer.A, layer.B), layer.scale));
    const n = ops.sqrt(ops.sum(ops.mul(V, V), [0]));
    expectClose(layer.sgdDirection().dataSync(), ops.mul(V, ops.div(layer.m.grad!, n)).dataSync(), { atol: 1e-14, rtol: 1e-12 });
    layer.m.grad = null;
    layer.A.requiresGrad = true;
    layer.forward(randn([4, 5], { ...f64, seed: 2 })).backward(randn([4, 3], { ...f64, seed: 3 }));
    layer.m.grad = null; //      only A's gradient: the factor part alone
    expect(layer.sgdDirection().dataSync().every(Number.isFinite)).toBe(true);
  });

  it('dispose() while merged frees the norm kept for unmerge', () => {
    const base = linear(5, 3, 2);
    const before = cpu.memory().liveBytes;
    const layer = new DoraLinear(base, { rank: 2, alpha: 2, seed: 1 });
    layer.merge();
    layer.dispose();
    expect(cpu.memory().liveBytes).toBe(before - 8 * (5 * 3 + 3)); // the base's W and b go with the layer
    expect(() => new DoraLinear(linear(5, 3, 2), { rank: 2, alpha: 2 }).dispose()).not.toThrow(); // never merged: no norm kept
  });
});

describe('VeRA', () => {
  it('float32 by default; options and a missing gradient refused with clear messages', () => {
    const proj = new VeraProjections(2, 5, 4, { seed: 1 });
    expect([proj.A.dtype, proj.B.dtype]).toEqual(['float32', 'float32']);
    const base = new Linear(5, 4, { seed: 1 });
    expectError(() => new VeraLinear(base, proj, null as never), 'VeraLinear', 'expected options { dInitial?, dropout? }');
    const layer = new VeraLinear(base, proj);
    expectError(() => layer.sgdDirection(), 'VeraLinear', 'sgdDirection(): d and b have no gradient; expected a backward first');
    const x = randn([2, 5]);
    expectError(() => ops.vera(x, base.weight, proj.A, proj.B, layer.lambdaD, layer.lambdaB, null as never), 'vera', 'expected an options object { dropout?, seed? }');
  });
});

describe('ops.vera shapes', () => {
  it('refuses each tensor of the wrong rank or size, naming the expected layout', () => {
    const t = (shape: number[]) => randn(shape, f64);
    const ok = { x: [2, 4], W: [4, 3], A: [4, 2], B: [2, 3], d: [2], b: [3] };
    const bad: Record<string, number[][]> = { A: [[4, 2, 1], [5, 2], [4, 0]], B: [[2, 3, 1], [3, 3], [2, 4]], d: [[2, 1], [3]], b: [[3, 1], [4]] };
    const run = (s: typeof ok) => () => ops.vera(t(s.x), t(s.W), t(s.A), t(s.B), t(s.d), t(s.b));
    expect(run(ok)().shape).toEqual([2, 3]);
    expectError(run({ ...ok, A: [4, 0], B: [0, 3], d: [0] }), 'vera', 'shapes do not fit'); // r = 0
    for (const [name, shapes] of Object.entries(bad)) {
      for (const shape of shapes) {
        expectError(run({ ...ok, [name]: shape }), 'vera', 'shapes do not fit', 'expected x [..., d], W [d, o], A [d, r], B [r, o], d [r], b [o] with r ≥ 1');
      }
    }
  });
});

describe('VeRA projections', () => {
  it('slices per width: a full-width layer gets A and B themselves, each narrower width its own slice; rank 1 is fine', () => {
    const proj = new VeraProjections(3, 8, 6, { seed: 1, dtype: 'float64' });
    const full = proj.slicesFor(8, 6);
    expect([full.A.storage, full.B.storage]).toEqual([proj.A.storage, proj.B.storage]);
    expect([full.A.isParameter, proj.slicesFor(5, 4).A.isParameter, proj.slicesFor(5, 4).B.isParameter]).toEqual([true, true, true]);
    expect([proj.slicesFor(3, 2).A.shape, proj.slicesFor(3, 2).B.shape]).toEqual([[3, 3], [3, 2]]);
    expectError(() => proj.slicesFor(2, 7), 'VeraProjections', 'a layer W [2, 7] is wider than the shared A [8, 3] and B [3, 6]; expected d ≤ 8 and o ≤ 6');
    expect(new VeraProjections(1, 2, 2).rank).toBe(1);
  });

  it('B is uniform in ±√(6/r); dispose() frees A, B and the slices', () => {
    const before = cpu.memory().liveBytes;
    const proj = new VeraProjections(4, 64, 64, { seed: 2, dtype: 'float64' });
    const Bmax = Math.max(...Array.from(proj.B.dataSync(), Math.abs));
    expect(Bmax).toBeLessThanOrEqual(Math.sqrt(6 / 4));
    expect(Bmax).toBeGreaterThan(0.9 * Math.sqrt(6 / 4)); // 256 draws: the largest is near the bound
    for (const t of Object.values(proj.slicesFor(5, 7))) t.dispose();
    proj.dispose();
    expect(cpu.memory().liveBytes).toBe(before);
  });
});

describe('LoRA+', () => {
  it('refuses a ratio or lr that is not a finite number, accepts lr = 0, and says why B is needed', () => {
    const model = new One(4, 3, 1);
    for (const ratio of [Infinity, NaN, '16' as never]) expectError(() => loraPlusGroups(model, { lr: 1, ratio }), 'loraPlusGroups', `ratio = ${String(ratio)} is invalid`);
    for (const lr of [Infinity, NaN, '1' as never]) expectError(() => loraPlusGroups(model, { lr, ratio: 16 }), 'loraPlusGroups', `lr = ${String(lr)} is invalid`);
    expect(loraPlusGroups(model, { lr: 0, ratio: 16 }).map((g) => g.lr)).toEqual([0, 0]);
    model.fc.bias!.requiresGrad = false;
    expect(() => loraPlusGroups(model, { lr: 1, ratio: 16 })).toThrow("loraPlusGroups: no trainable lora_B (or 1-D) parameter among fc.weight; LoRA+ scales B's learning rate");
  });

  it('with no A-like parameter trained (LoRA-FA) there is one group, B at λ·lr', () => {
    const layer = new LoraFaLinear(linear(4, 3, 1), { rank: 2, alpha: 2, seed: 1 });
    layer.base.bias!.requiresGrad = false;
    expect(loraPlusGroups(layer, { lr: 0.5, ratio: 16 })).toEqual([{ params: [layer.B], lr: 8 }]);
  });
});

describe('fullGradients (LoRA-GA)', () => {
  it('is the mean over batches, ignores gradients already held, and restores every parameter', async () => {
    const model = new One(4, 3, 1);
    const xs = [randn([2, 4], { ...f64, seed: 1 }), randn([2, 4], { ...f64, seed: 2 })];
    const loss = (i: number) => ops.sum(model.forward(xs[i]!));
    model.fc.weight.requiresGrad = false; // frozen, as under adapters
    const held = randn([3], f64);
    model.fc.bias!.grad = held;
    const before = cpu.memory().liveBytes;
    const G = (await fullGradients(model, loss, { targets: ['fc'], batches: 2 }))['fc']!;
    // ∂/∂W Σ(x·W + b) = xᵀ·1: the mean over the two batches
    const colSums = (x: Tensor) => Array.from({ length: 4 }, (_, i) => [0, 1].reduce((s, n) => s + x.dataSync()[n * 4 + i]!, 0));
    const want = colSums(xs[0]!).map((v, i) => (v + colSums(xs[1]!)[i]!) / 2).flatMap((v) => [v, v, v]);
    expectClose(G, want, { atol: 1e-14, rtol: 1e-14 });
    expect(cpu.memory().liveBytes).toBe(before); // no gradient left behind, the bias's included
    expect([model.fc.weight.requiresGrad, model.fc.weight.grad, model.fc.bias!.requiresGrad, model.fc.bias!.grad]).toEqual([false, null, true, held]);
    model.fc.weight.grad = randn([4, 3], f64); // a stale gradient must not leak into G
    expectClose((await fullGradients(model, (i) => loss(i), { targets: ['fc'], batches: 2 }))['fc']!, want, { atol: 1e-14, rtol: 1e-14 });
    await expect(fullGradients(model, loss, { targets: ['nope'] })).rejects.toThrow(/^fullGradients: /);
  });
});
