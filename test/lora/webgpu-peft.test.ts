/**
 * The PEFT methods on WebGPU: DoRA and VeRA layers save what they save on the CPU; LoRA-Pro needs
 * its factors prepared after every change of A and B (a cold cache is an error, never a sync);
 * the SVD inits refuse a W that cannot be read synchronously; PEFT adapters load onto a WebGPU model.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureSaved, noGrad, ops, randn, type Tensor } from '../../src/index.ts';
import { loadPeftAdapter } from '../../src/node.ts';
import { DoraLinear } from '../../src/lora/dora-layer.ts';
import { LoraLinear, LoraProLinear } from '../../src/lora/layers.ts';
import { applyPeftAdapter, peftAdapterState } from '../../src/lora/peft-format.ts';
import { VeraLinear, VeraProjections } from '../../src/lora/vera-layer.ts';
import { Linear } from '../../src/nn/linear.ts';
import { Module } from '../../src/nn/module.ts';
import { SGD } from '../../src/optim/sgd.ts';
import { expectClose } from '../helpers/allclose.ts';
import { expectError } from '../helpers/errors.ts';
import { skipReason, webgpu } from '../webgpu/gpu.ts';

const [N, d, o, r] = [9, 12, 7, 2];

class Two extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(device: 'cpu' | 'webgpu') {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(5, 4, { seed: 1, device }));
    this.fc2 = this.registerModule('fc2', new Linear(4, 3, { seed: 2, device }));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(ops.relu(this.fc1.forward(x)));
  }
}

describe.skipIf(!webgpu)(`PEFT methods on WebGPU ${skipReason}`, () => {
  it('DoRA saves N·(d + r + o) and VeRA N·(r + o) float32 elements, as on the CPU', async () => {
    const x = await randn([N, d], { seed: 1 }).to('webgpu');
    const dora = new DoraLinear(new Linear(d, o, { seed: 2, device: 'webgpu' }), { rank: r, alpha: 4, seed: 3 });
    const vera = new VeraLinear(new Linear(d, o, { seed: 2, device: 'webgpu' }), new VeraProjections(r, d, o, { seed: 4, device: 'webgpu' }));
    for (const [layer, elements] of [[dora, N * (d + r + o)], [vera, N * (r + o)]] as const) {
      const rep = measureSaved(() => layer.forward(x));
      expect(rep.bytes).toBe(elements * 4);
      rep.result.sum().backward();
    }
    expect((await dora.m.grad!.data()).every(Number.isFinite)).toBe(true);
  });

  it('LoRA-Pro: a cold factor is an error; layer.prepare() before each forward reads A and B back once', async () => {
    const layer = new LoraProLinear(new Linear(d, o, { seed: 2, device: 'webgpu' }), { rank: r, alpha: 4, seed: 3 });
    const x = await randn([N, d], { seed: 1 }).to('webgpu');
    expect(() => layer.forward(x)).toThrow(/loraPro: the factor of A \[12, 2\] \(float32, webgpu\) \(version \d+\) is not cached/);
    const opt = new SGD(layer.trainableParameters(), { lr: 0.1 });
    const dY = await randn([N, o], { seed: 5 }).to('webgpu'); // of full rank: B = −η·g̃_B after a step has rank r
    for (let step = 0; step < 2; step++) {
      await layer.prepare();
      layer.forward(x).backward(dY);
      opt.step();
      opt.zeroGrad();
    }
    expect((await layer.B.data()).some((v) => v !== 0)).toBe(true);
  });

  it('VeRA refuses projections on another device than W, naming both', () => {
    expectError(() => new VeraLinear(new Linear(d, o, { seed: 2, device: 'webgpu' }), new VeraProjections(r, d, o, { seed: 4 })), 'VeraLinear',
      'the shared A [12, 2] (float32, cpu) does not match W [12, 7] (float32, webgpu); expected one dtype and device');
  });

  it('an SVD init needs W on the host: refused on WebGPU, naming what to do', () => {
    expectError(() => new LoraLinear(new Linear(d, o, { seed: 2, device: 'webgpu' }), { rank: r, alpha: 4, svdInit: 'pissa' }), 'LoraLinear',
      'svdInit needs the host values of W [12, 7] (float32, webgpu), and a webgpu tensor cannot be read synchronously; apply the adapters to the model on the CPU');
  });

  it('a PEFT adapter loads onto a WebGPU model (tensors read onto its device); CPU tensors are refused', async () => {
    const cpu = new Two('cpu'), gpu = new Two('webgpu');
    await loadPeftAdapter(join(import.meta.dirname, '..', 'fixtures', 'peft', 'lora'), cpu);
    await loadPeftAdapter(join(import.meta.dirname, '..', 'fixtures', 'peft', 'lora'), gpu);
    const x = randn([3, 5], { seed: 8 }), xg = await x.to('webgpu');
    expectClose(await noGrad(() => gpu.forward(xg)).data(), noGrad(() => cpu.forward(x)).dataSync(), { atol: 2e-5, rtol: 2e-4 });
    expectError(() => applyPeftAdapter(new Two('webgpu'), peftAdapterState(cpu)), 'applyPeftAdapter', "'base_model.model.fc1.lora_A.weight' is on cpu; expected it on webgpu, the device of W [5, 4] (float32, webgpu)");
  });
});
