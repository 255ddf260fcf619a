/**
 * The LoRA ops and layers on the WebGPU backend against the CPU, at float32 tolerances: the same
 * op code runs on both (matmul flags, the dropout kernel regenerating its mask, cholSolve with a
 * float32 factor on the GPU and a float64 one on the CPU).
 */
import { describe, expect, it } from 'vitest';
import { measureSaved, ops, randn, scope, type Tensor } from '../../src/index.ts';
import { loraFactorStats, prepareLoraFactor, releaseLoraFactor } from '../../src/lora/factor-cache.ts';
import { Linear } from '../../src/nn/linear.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear } from '../../src/lora/layers.ts';
import { expectClose } from '../helpers/allclose.ts';
import { skipReason, webgpu } from '../webgpu/gpu.ts';

const F32 = { atol: 2e-5, rtol: 2e-4 };

/** Runs op on CPU tensors and on their WebGPU copies; returns y and every gradient from both. */
async function both(inputs: Tensor[], trained: boolean[], op: (...t: Tensor[]) => Tensor, prepare?: (gpu: Tensor[]) => Promise<void>) {
  const results: Float32Array[][] = [];
  for (const device of ['cpu', 'webgpu'] as const) {
    const ts = await Promise.all(inputs.map(async (t, i) => {
      const c = await t.to(device);
      c.isParameter = i > 0;
      c.requiresGrad = trained[i]!;
      return c;
    }));
    if (device === 'webgpu' && prepare) await prepare(ts);
    const y = op(...ts);
    y.backward(await randn(y.shape, { seed: 99 }).to(device));
    const grads = ts.filter((t) => t.requiresGrad).map((t) => t.grad!);
    results.push(await Promise.all([y, ...grads].map(async (t) => (await t.data()) as Float32Array)));
  }
  return results as [Float32Array[], Float32Array[]];
}

describe.skipIf(!webgpu)(`LoRA ops and layers on WebGPU ${skipReason}`, () => {
  // sizes off the tile edges; r ≪ d keeps AᵀA well conditioned for a float32 factor
  const [N, d, o, r] = [37, 70, 33, 5];
  const x = randn([N, d], { seed: 1 }), W = randn([d, o], { seed: 2 }), A = randn([d, r], { seed: 3 });
  const B = randn([r, o], { seed: 4 });

  for (const dropout of [0, 0.3]) {
    const opts = { scale: 1.5, dropout, seed: 7 };
    it(`lora, loraFA, loraFB: y and every gradient match the CPU (dropout ${dropout})`, async () => {
      const cases: [string, boolean[], (...t: Tensor[]) => Tensor, ((g: Tensor[]) => Promise<void>)?][] = [
        ['linear', [true, true], (x, W) => ops.linear(x, W)],
        ['lora', [true, false, true, true], (x, W, A, B) => ops.lora(x, W, A, B, opts)],
        ['loraFA', [true, false, false, true], (x, W, A, B) => ops.loraFA(x, W, A, B, opts), (g) => prepareLoraFactor(g[2]!, 'columns')],
        ['loraFB', [true, false, true, false], (x, W, A, B) => ops.loraFB(x, W, A, B, opts), (g) => prepareLoraFactor(g[3]!, 'rows')],
      ];
      for (const [name, trained, op, prepare] of cases) {
        const [cpu, gpu] = await both([x, W, A, B].slice(0, trained.length), trained, op, prepare);
        cpu.forEach((c, i) => expectClose(gpu[i]!, c, F32));
        expect(gpu.length, name).toBe(trained.filter(Boolean).length + 1);
      }
    });
  }

  it('a cold factor cache on WebGPU is an error; the layers prime it, and LoRA-FA saves N·r there too', async () => {
    const Ag = await A.to('webgpu'), Bg = await B.to('webgpu');
    Bg.requiresGrad = true;
    const run = async () => ops.loraFA(await x.to('webgpu'), await W.to('webgpu'), Ag, Bg, { scale: 1 });
    await expect(run()).rejects.toThrow(/loraFA: the factor of A \[70, 5\] \(float32, webgpu\) \(version 0\) is not cached/);
    for (const Layer of [LoraLinear, LoraFaLinear, LoraFbLinear]) {
      const layer = new Layer(new Linear(d, o, { seed: 5, device: 'webgpu' }), { rank: r, alpha: 10, dropout: 0.2, seed: 6 });
      const before = loraFactorStats().factorizations;
      const xg = await x.to('webgpu');
      const rep = measureSaved(() => layer.forward(xg));
      expect(rep.bytes).toBe((Layer === LoraFaLinear ? N * r : Layer === LoraLinear ? N * (d + r) : N * d) * 4);
      rep.result.sum().backward();
      expect(loraFactorStats().factorizations).toBe(before);
      const trained = Layer === LoraFbLinear ? layer.A : layer.B;
      expect((await trained.grad!.data()).every(Number.isFinite)).toBe(true);
    }
  });

  it('a forward and backward leaves no WebGPU buffer behind once its tensors are freed', async () => {
    const [xg, Wg, Ag, Bg] = await Promise.all([x, W, A, B].map((t) => t.to('webgpu')));
    Ag!.isParameter = true;
    Bg!.requiresGrad = true;
    await prepareLoraFactor(Ag!, 'columns');
    const live = () => webgpu!.memory().liveBuffers;
    const start = live();
    scope(() => ops.loraFA(xg!, Wg!, Ag!, Bg!, { scale: 1, dropout: 0.5 }).sum().backward());
    Bg!.grad!.dispose();
    expect(live()).toBe(start);
    releaseLoraFactor(Ag!);
    expect(live()).toBe(start - 1);
  });
});
