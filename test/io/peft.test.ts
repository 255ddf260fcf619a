/**
 * Adapters in PEFT's format: the committed fixtures (written by scripts/peft-fixture.py, which
 * follows PEFT's files and forward in PyTorch's layout with no lorafa code) load and reproduce
 * their outputs; every method's adapter round-trips through savePeftAdapter / loadPeftAdapter;
 * keys, layouts and config fields are PEFT's; bad adapters are refused before the model changes.
 */
import { mkdtemp, readFile, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { noGrad, ops, randn, tensor, type Tensor } from '../../src/index.ts';
import { loadPeftAdapter, loadSafetensors, savePeftAdapter, saveSafetensors } from '../../src/node.ts';
import { AdapterLayer } from '../../src/lora/adapter-layer.ts';
import { applyAdapters, type AdapterOptions } from '../../src/lora/adapters.ts';
import { fullGradients } from '../../src/lora/lora-ga.ts';
import { applyPeftAdapter, peftAdapterState } from '../../src/lora/peft-format.ts';
import { LoraLinear } from '../../src/lora/layers.ts';
import { Linear } from '../../src/nn/linear.ts';
import { Module } from '../../src/nn/module.ts';
import { SGD } from '../../src/optim/sgd.ts';
import { expectClose } from '../helpers/allclose.ts';
import { expectError } from '../helpers/errors.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'peft');

/** y = fc2(relu(fc1(x))): the fixture's base model, in float64. */
class TwoLayer extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(seed = 1, dims = [5, 4, 3]) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(dims[0]!, dims[1]!, { dtype: 'float64', seed }));
    this.fc2 = this.registerModule('fc2', new Linear(dims[1]!, dims[2]!, { dtype: 'float64', seed: seed + 1 }));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(ops.relu(this.fc1.forward(x)));
  }
}

/** The fixture's base: PyTorch's weight [out, in] is our Wᵀ. */
async function fixtureBase(): Promise<TwoLayer> {
  const model = new TwoLayer();
  const { tensors } = await loadSafetensors(join(FIXTURES, 'base.safetensors'));
  noGrad(() => {
    for (const name of ['fc1', 'fc2'] as const) {
      model[name].weight.assign(ops.cast(ops.transpose(tensors[`${name}.weight`]!, 0, 1), 'float64'));
      model[name].bias!.assign(ops.cast(tensors[`${name}.bias`]!, 'float64'));
    }
  });
  return model;
}

describe('PEFT fixtures written outside lorafa', () => {
  for (const kind of ['lora', 'dora'] as const) {
    it(`${kind}: loads onto the base and reproduces PEFT's forward`, async () => {
      const expected = JSON.parse(await readFile(join(FIXTURES, 'expected.json'), 'utf8'));
      const model = await fixtureBase();
      const report = await loadPeftAdapter(join(FIXTURES, kind), model);
      expect(report.replaced).toEqual(['fc1', 'fc2']);
      const x = tensor(expected.x, { dtype: 'float64' });
      expectClose(noGrad(() => model.forward(x)).dataSync(), expected[kind].flat(), { atol: 1e-12, rtol: 1e-12 });
    });
  }
});

describe('round trip: savePeftAdapter then loadPeftAdapter onto a fresh base', () => {
  const cases: [string, Omit<AdapterOptions, 'targets' | 'seed'>][] = [
    ['lora', { method: 'lora', rank: 2, alpha: 4 }],
    ['rslora', { method: 'lora', rank: 2, alpha: 4, rslora: true }],
    ['lorafa', { method: 'lorafa', rank: 2, alpha: -3 }],
    ['lorafb', { method: 'lorafb', rank: 1, alpha: 2 }],
    ['lorapro', { method: 'lorapro', rank: 2, alpha: 4 }],
    ['dora', { method: 'dora', rank: 2, alpha: 4 }],
    ['pissa (converted to rank 2r)', { method: 'lora', rank: 1, alpha: 2, init: 'pissa' }],
    ['lorafa with PiSSA A (converted)', { method: 'lorafa', rank: 1, alpha: 2, rslora: true, init: 'pissa' }],
  ];
  for (const [name, options] of cases) {
    it(name, async () => {
      const model = new TwoLayer(3, [6, 5, 4]);
      const x = randn([4, 6], { dtype: 'float64', seed: 2 });
      applyAdapters(model, { ...options, targets: ['fc1', 'fc2'], seed: 7 });
      ops.sum(ops.mul(model.forward(x), randn([4, 4], { dtype: 'float64', seed: 3 }))).backward();
      new SGD(model.trainableParameters(), { lr: 0.3 }).step(); // move every trained tensor away from its init
      const y = noGrad(() => model.forward(x)).dataSync();
      const dir = await mkdtemp(join(tmpdir(), 'lorafa-peft-'));
      await savePeftAdapter(dir, model, { baseModel: 'tiny' });
      const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
      const converted = options.init === 'pissa';
      expect(config).toMatchObject({
        peft_type: 'LORA', r: converted ? 2 * options.rank : options.rank, use_rslora: options.rslora ?? false, use_dora: options.method === 'dora',
        target_modules: ['fc1', 'fc2'], init_lora_weights: true, base_model_name_or_path: 'tiny', bias: 'none',
      });
      expect(Object.keys(config)).toEqual([...Object.keys(config)].sort());
      const { tensors, metadata } = await loadSafetensors(join(dir, 'adapter_model.safetensors'));
      expect(metadata).toEqual({ format: 'pt' });
      expect(tensors['base_model.model.fc1.lora_A.weight']!.shape).toEqual([config.r, 6]); // [r, in]
      expect(tensors['base_model.model.fc2.lora_B.weight']!.shape).toEqual([4, config.r]); // [out, r]
      if (options.method === 'dora') expect(tensors['base_model.model.fc2.lora_magnitude_vector']!.shape).toEqual([4]);
      const fresh = new TwoLayer(3, [6, 5, 4]);
      await loadPeftAdapter(dir, fresh);
      expectClose(noGrad(() => fresh.forward(x)).dataSync(), y, { atol: 1e-12, rtol: 1e-11 });
    });
  }

  it('LoRA-GA (converted onto the original W)', async () => {
    const model = new TwoLayer(3, [6, 5, 4]);
    const x = randn([4, 6], { dtype: 'float64', seed: 2 });
    const loss = () => ops.sum(ops.mul(model.forward(x), randn([4, 4], { dtype: 'float64', seed: 3 })));
    const gradients = await fullGradients(model, loss, { targets: ['fc1', 'fc2'] });
    applyAdapters(model, { method: 'lora', rank: 1, alpha: 2, init: 'lora-ga', gradients, targets: ['fc1', 'fc2'] });
    loss().backward();
    new SGD(model.trainableParameters(), { lr: 0.3 }).step();
    const y = noGrad(() => model.forward(x)).dataSync();
    const fresh = new TwoLayer(3, [6, 5, 4]);
    applyPeftAdapter(fresh, peftAdapterState(model));
    expectClose(noGrad(() => fresh.forward(x)).dataSync(), y, { atol: 1e-12, rtol: 1e-11 });
  });

  it('loads an adapter saved in bfloat16 (as PEFT saves a bf16 model\'s) onto a float64 base: the bf16 values, widened exactly', async () => {
    const model = new TwoLayer(3, [6, 5, 4]);
    applyAdapters(model, { method: 'lora', rank: 2, alpha: 4, targets: ['fc1', 'fc2'], seed: 7 });
    const dir = await mkdtemp(join(tmpdir(), 'lorafa-peft-bf16-'));
    await savePeftAdapter(dir, model, { baseModel: 'tiny' });
    const file = join(dir, 'adapter_model.safetensors');
    const { tensors, metadata } = await loadSafetensors(file);
    const bf16 = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, ops.cast(t, 'bfloat16')]));
    await saveSafetensors(file, bf16, metadata);
    const reread = await loadSafetensors(file);
    for (const [k, t] of Object.entries(reread.tensors)) {
      expect(t.dtype).toBe('bfloat16');
      expect(Array.from(t.rawDataSync())).toEqual(Array.from(bf16[k]!.rawDataSync()));
    }
    const fresh = new TwoLayer(3, [6, 5, 4]);
    await loadPeftAdapter(dir, fresh);
    for (const name of ['fc1', 'fc2'] as const) {
      const layer = fresh[name] as unknown as LoraLinear, saved = model[name] as unknown as LoraLinear;
      expect(layer.B.dtype).toBe('float64');
      // PEFT's B [out, r] is our Bᵀ: compare values, each the bf16 rounding of the saved one
      expect(Array.from(layer.B.dataSync())).toEqual(Array.from(ops.cast(ops.cast(saved.B, 'bfloat16'), 'float64').dataSync()));
      expect(Array.from(layer.A.dataSync())).toEqual(Array.from(ops.cast(ops.cast(saved.A, 'bfloat16'), 'float64').dataSync()));
    }
  });

  it('loads a LoRA adapter as LoRA-FA when asked (A frozen, B trained)', async () => {
    const model = new TwoLayer(3);
    applyAdapters(model, { method: 'lora', rank: 2, alpha: 4, targets: ['fc1'], seed: 1 });
    const fresh = new TwoLayer(3);
    applyPeftAdapter(fresh, peftAdapterState(model), { method: 'lorafa' });
    const layer = fresh.fc1 as unknown as AdapterLayer & { A: Tensor; B: Tensor };
    expect([layer.A.requiresGrad, layer.B.requiresGrad]).toEqual([false, true]);
    expect(fresh.fc2).toBeInstanceOf(Linear);
  });
});

describe('bad adapters are refused before the model changes', () => {
  const adapter = () => {
    const model = new TwoLayer();
    applyAdapters(model, { method: 'lora', rank: 2, alpha: 4, targets: ['fc1', 'fc2'], seed: 1 });
    return peftAdapterState(model);
  };
  const refuse = (mutate: (a: ReturnType<typeof adapter>) => void, ...parts: (string | RegExp)[]) => {
    const a = adapter();
    mutate(a);
    const model = new TwoLayer();
    expectError(() => applyPeftAdapter(model, a), 'applyPeftAdapter', ...parts);
    expect(model.fc1).toBeInstanceOf(Linear); // nothing was injected
    expect(model.fc2).toBeInstanceOf(Linear);
  };

  it('unknown modules and keys, wrong shapes, missing factors, mismatched targets', () => {
    refuse((a) => { a.tensors['base_model.model.fc3.lora_A.weight'] = a.tensors['base_model.model.fc1.lora_A.weight']!; },
      "key 'base_model.model.fc3.lora_A.weight' names module 'fc3', which is not a Linear layer of the model; the Linear layers are fc1, fc2");
    refuse((a) => { a.tensors['base_model.model.fc1.lora_C.weight'] = a.tensors['base_model.model.fc1.lora_A.weight']!; }, "key 'base_model.model.fc1.lora_C.weight' is not a LoRA tensor");
    refuse((a) => { a.tensors['base_model.model.fc1.lora_A.weight'] = randn([2, 4], { dtype: 'float64' }); },
      "'base_model.model.fc1.lora_A.weight' is [2, 4] (float64, cpu); expected [2, 5] for W [5, 4] (float64, cpu) with r = 2 (PEFT's layout: lora_A [r, in], lora_B [out, r])");
    refuse((a) => { delete a.tensors['base_model.model.fc2.lora_B.weight']; }, "module 'fc2' has no lora_B.weight");
    refuse((a) => { a.config.target_modules = ['fc1']; }, 'target_modules ["fc1"] and the tensors disagree on fc2');
    refuse((a) => { a.tensors['base_model.model.fc1.lora_magnitude_vector'] = randn([4], { dtype: 'float64' }); }, 'is a DoRA magnitude, but the config has use_dora false');
  });

  it('configs lorafa cannot honour', () => {
    refuse((a) => { a.config.peft_type = 'VERA'; }, 'peft_type "VERA" is not supported; expected "LORA"');
    refuse((a) => { a.config.rank_pattern = { fc1: 4 }; }, 'rank_pattern {"fc1":4} is not supported');
    refuse((a) => { a.config.init_lora_weights = 'pissa'; }, 'init_lora_weights = "pissa": PEFT rewrites the base weights');
    refuse((a) => { a.config.r = 0; }, 'r = 0; expected a positive integer');
    refuse((a) => { a.config.bias = 'all'; }, 'bias = "all" is not supported');
    refuse((a) => { a.config.use_dora = true; }, "module 'fc1' has no lora_magnitude_vector");
  });

  it('exports that PEFT\'s LoRA format cannot hold, and unreadable folders', async () => {
    const vera = new TwoLayer();
    applyAdapters(vera, { method: 'vera', rank: 2, targets: ['fc1'] });
    expectError(() => peftAdapterState(vera), 'peftAdapterState', "'fc1' is a VeraLinear: only LoRA-type adapters");
    expectError(() => peftAdapterState(new TwoLayer()), 'peftAdapterState', 'the model holds no adapter');
    const mixed = new TwoLayer();
    applyAdapters(mixed, { method: 'lora', rank: 2, alpha: 4, targets: ['fc1'] });
    mixed.replaceModule('fc2', new LoraLinear(mixed.fc2, { rank: 1, alpha: 4 }));
    expectError(() => peftAdapterState(mixed), 'peftAdapterState', "'fc2' differs from 'fc1' in rank, alpha, rslora, DoRA, init or dropout");
    const dir = await mkdtemp(join(tmpdir(), 'lorafa-peft-bad-'));
    await expect(loadPeftAdapter(dir, new TwoLayer())).rejects.toThrow(/loadPeftAdapter: cannot read .*adapter_model\.safetensors/);
    await mkdir(join(dir, 'a'));
    await copyFile(join(FIXTURES, 'lora', 'adapter_model.safetensors'), join(dir, 'a', 'adapter_model.safetensors'));
    await writeFile(join(dir, 'a', 'adapter_config.json'), '{ nope');
    await expect(loadPeftAdapter(join(dir, 'a'), new TwoLayer())).rejects.toThrow(/loadPeftAdapter: .*adapter_config\.json is not valid JSON/);
    const loaded = await fixtureBase();
    await loadPeftAdapter(join(FIXTURES, 'lora'), loaded);
    await expect(loadPeftAdapter(join(FIXTURES, 'lora'), loaded)).rejects.toThrow(/applyPeftAdapter: the model already holds adapters at fc1, fc2; expected a model without adapters/);
  });
});
