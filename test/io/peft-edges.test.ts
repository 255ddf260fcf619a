/**
 * Edges of PEFT's adapter format (src/lora/peft-format.ts), each check written for a mutant that
 * survived the rest of the suite (docs/verification.md, "Survivors"): every field of the config
 * written, target_modules as names or as an escaped regex, a converted (SVD-init) export's
 * tensors, and the defaults and refusals of a config read.
 */
import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '../../src/index.ts';
import { applyAdapters } from '../../src/lora/adapters.ts';
import { applyPeftAdapter, peftAdapterState } from '../../src/lora/peft-format.ts';
import { LoraLinear, type LoraAdapterLinear } from '../../src/lora/layers.ts';
import { Linear } from '../../src/nn/linear.ts';
import { Module } from '../../src/nn/module.ts';
import { expectError } from '../helpers/errors.ts';

const linear = (d: number, o: number, s: number) => new Linear(d, o, { dtype: 'float64', seed: s });

/** Modules by name, in order: a Linear, or a container of them. */
class Tree extends Module {
  constructor(children: Record<string, Module>) {
    super();
    for (const [name, child] of Object.entries(children)) this.registerModule(name, child);
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}
class NotLinear extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

describe('peftAdapterState: the config', () => {
  it('writes every field PEFT writes, with these values', () => {
    const model = new Tree({ up: linear(5, 4, 1), down: linear(4, 5, 2) });
    applyAdapters(model, { method: 'lora', rank: 2, alpha: 4, targets: ['up', 'down'], seed: 1 });
    expect(peftAdapterState(model).config).toEqual({
      alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: null, bias: 'none', fan_in_fan_out: false,
      inference_mode: true, init_lora_weights: true, layer_replication: null, layers_pattern: null, layers_to_transform: null,
      loftq_config: {}, lora_alpha: 4, lora_dropout: 0, megatron_config: null, megatron_core: 'megatron.core', modules_to_save: null,
      peft_type: 'LORA', r: 2, rank_pattern: {}, revision: null, target_modules: ['down', 'up'], task_type: null, use_dora: false, use_rslora: false,
    });
  });

  it('target_modules: layer names when they select exactly the adapted layers, else an escaped full-match regex of the paths', () => {
    const names = (children: Record<string, Module>, targets: string[] | RegExp) => {
      const model = new Tree(children);
      applyAdapters(model, { method: 'lora', rank: 1, alpha: 1, targets });
      return peftAdapterState(model).config.target_modules;
    };
    // a Linear named 'base' (its adapter's own Linear is 'base.base'), and a non-Linear module of an adapted layer's name
    expect(names({ base: linear(3, 3, 1) }, ['base'])).toEqual(['base']);
    expect(names({ fc: linear(3, 3, 1), head: linear(3, 3, 2) }, ['fc'])).toEqual(['fc']); // 'head' not adapted, not named
    expect(names({ fc: linear(3, 3, 1), blk: new Tree({ fc: new NotLinear() }) }, ['fc'])).toEqual(['fc']);
    // 'q' in two blocks, one adapted: the names would select both
    const blocks = () => ({ b0: new Tree({ q: linear(3, 3, 1) }), b1: new Tree({ q: linear(3, 3, 2) }), 'x+y': new Tree({ q: linear(3, 3, 3) }) });
    expect(names(blocks(), /^b0\.q$/)).toBe('(b0\\.q)');
    expect(names(blocks(), /^(b1|x\+y)\.q$/)).toBe('(b1\\.q|x\\+y\\.q)');
    // and the regex loads back onto exactly those layers
    const model = new Tree(blocks());
    applyAdapters(model, { method: 'lora', rank: 1, alpha: 1, targets: /^(b1|x\+y)\.q$/ });
    const fresh = new Tree(blocks());
    expect(applyPeftAdapter(fresh, peftAdapterState(model)).replaced).toEqual(['b1.q', 'x+y.q']);
  });
});

describe('peftAdapterState: SVD inits converted onto the original W', () => {
  it('exports [A, A₀] and [B, −B₀] in the layer\'s dtype, exactly', () => {
    const model = new Tree({ fc: linear(6, 5, 1) });
    applyAdapters(model, { method: 'lora', rank: 2, alpha: 3, init: 'pissa', targets: ['fc'] });
    const layer = model.namedModules().find(([p]) => p === 'fc')![1] as LoraAdapterLinear;
    const { config, tensors } = peftAdapterState(model);
    expect([config.r, config.lora_alpha]).toEqual([4, 6]);
    const A = tensors['base_model.model.fc.lora_A.weight']!, B = tensors['base_model.model.fc.lora_B.weight']!;
    expect([A.dtype, B.dtype]).toEqual(['float64', 'float64']);
    // lora_A [2r, d] = [A, A₀]ᵀ; lora_B [o, 2r] = [B; −B₀]ᵀ (A, A₀ [d, r] and B, B₀ [r, o] row-major)
    const [d, r, o] = [6, 2, 5];
    const a = Array.from(layer.A.dataSync()), b = Array.from(layer.B.dataSync()), a0 = layer.initial!.A, b0 = layer.initial!.B;
    expect(Array.from(A.dataSync())).toEqual(Array.from({ length: 2 * r * d }, (_, n) => {
      const [j, i] = [Math.floor(n / d), n % d];
      return j < r ? a[i * r + j] : a0[i * r + j - r];
    }));
    expect(Array.from(B.dataSync())).toEqual(Array.from({ length: o * 2 * r }, (_, n) => {
      const [i, j] = [Math.floor(n / (2 * r)), n % (2 * r)];
      return j < r ? b[j * o + i] : -b0[(j - r) * o + i]!;
    }));
  });

  it('a float32 layer exports float32 tensors', () => {
    const model = new Tree({ fc: new Linear(6, 5, { seed: 1 }) });
    applyAdapters(model, { method: 'lora', rank: 1, alpha: 3, init: 'pissa', targets: ['fc'] });
    const { tensors } = peftAdapterState(model);
    expect([tensors['base_model.model.fc.lora_A.weight']!.dtype, tensors['base_model.model.fc.lora_B.weight']!.dtype]).toEqual(['float32', 'float32']);
  });

  it('needs 2r ≤ min(d, o) of the first layer: 2r = min(d, o) is fine, one more is refused', () => {
    const svd = (d: number, o: number, r: number) => {
      const model = new Tree({ fc: linear(d, o, 1) });
      applyAdapters(model, { method: 'lora', rank: r, alpha: 1, init: 'pissa', targets: ['fc'] });
      return () => peftAdapterState(model);
    };
    expect(svd(4, 8, 2)().config.r).toBe(4);
    expectError(svd(5, 8, 3), 'peftAdapterState', 'needs rank 2r = 6, above min(d, o) of some layer');
  });

  it('refuses layers that differ only in init (one SVD, one random)', () => {
    const model = new Tree({ a: linear(6, 6, 1), b: linear(6, 6, 2) });
    applyAdapters(model, { method: 'lora', rank: 1, alpha: 1, init: 'pissa', targets: ['a'] });
    model.replaceModule('b', new LoraLinear(linear(6, 6, 2), { rank: 1, alpha: 1 }));
    expectError(() => peftAdapterState(model), 'peftAdapterState', "'b' differs from 'a' in rank, alpha, rslora, DoRA, init or dropout");
  });
});

describe('applyPeftAdapter: the config read', () => {
  const exported = () => {
    const model = new Tree({ fc: linear(4, 3, 1) });
    applyAdapters(model, { method: 'lora', rank: 2, alpha: 4, targets: ['fc'], seed: 1 });
    return peftAdapterState(model);
  };

  it('loads onto layers named by the last part of their path, as LoRA-FB or LoRA-Pro when asked; refuses no adapter at all', () => {
    const blocks = () => new Tree({ b0: new Tree({ q: linear(4, 3, 1) }), b1: new Tree({ q: linear(4, 3, 2) }) });
    const model = blocks();
    applyAdapters(model, { method: 'lora', rank: 1, alpha: 1, targets: ['q'] });
    const adapter = peftAdapterState(model);
    expect(adapter.config.target_modules).toEqual(['q']);
    for (const method of ['lorafb', 'lorapro'] as const) {
      expect(applyPeftAdapter(blocks(), adapter, { method }).replaced).toEqual(['b0.q', 'b1.q']);
    }
    expectError(() => applyPeftAdapter(blocks(), null as never), 'applyPeftAdapter', 'adapter_config.json is not a JSON object');
  });

  it('tensors: a DoRA magnitude under PEFT\'s newer key (….weight) loads; wrong keys, ranks and missing factors are refused with full messages', () => {
    const model = new Tree({ fc: linear(4, 3, 1) });
    applyAdapters(model, { method: 'dora', rank: 2, alpha: 4, targets: ['fc'], seed: 1 });
    const dora = peftAdapterState(model);
    const m = dora.tensors['base_model.model.fc.lora_magnitude_vector']!;
    delete dora.tensors['base_model.model.fc.lora_magnitude_vector'];
    dora.tensors['base_model.model.fc.lora_magnitude_vector.weight'] = m;
    expect(applyPeftAdapter(new Tree({ fc: linear(4, 3, 1) }), dora).replaced).toEqual(['fc']);
    const refuse = (change: (a: ReturnType<typeof exported>) => void, message: string) => {
      const a = exported();
      change(a);
      expectError(() => applyPeftAdapter(new Tree({ fc: linear(4, 3, 1) }), a), 'applyPeftAdapter', message);
    };
    refuse((a) => { a.tensors['base_model.model.fc.lora_C.weight'] = m; },
      "key 'base_model.model.fc.lora_C.weight' is not a LoRA tensor; expected base_model.model.<module path> followed by .lora_A.weight, .lora_B.weight, .lora_magnitude_vector");
    refuse((a) => { delete a.tensors['base_model.model.fc.lora_B.weight']; }, "module 'fc' has no lora_B.weight; expected lora_A.weight, lora_B.weight");
    refuse((a) => { a.tensors['base_model.model.fc.lora_A.weight'] = tensor([1, 2], { dtype: 'float64' }); },
      "'base_model.model.fc.lora_A.weight' is [2] (float64, cpu); expected [2, 4]");
  });

  it('r up to min(d, o) loads; above it is refused, naming min(d, o)', () => {
    const peft = (d: number, o: number, r: number) => ({
      config: { peft_type: 'LORA', r, lora_alpha: 1, target_modules: ['fc'] },
      tensors: { 'base_model.model.fc.lora_A.weight': tensor(new Float64Array(r * d), { shape: [r, d] }), 'base_model.model.fc.lora_B.weight': tensor(new Float64Array(o * r), { shape: [o, r] }) },
    });
    expect(applyPeftAdapter(new Tree({ fc: linear(5, 3, 1) }), peft(5, 3, 3)).replaced).toEqual(['fc']);
    expectError(() => applyPeftAdapter(new Tree({ fc: linear(5, 3, 1) }), peft(5, 3, 4)), 'applyPeftAdapter', "r = 4 exceeds min(d, o) = 3 of 'fc'");
  });

  it('names every module on which target_modules and the tensors disagree', () => {
    const model = new Tree({ a: linear(4, 3, 1), b: linear(4, 3, 2) });
    applyAdapters(model, { method: 'lora', rank: 1, alpha: 1, targets: ['a', 'b'] });
    const adapter = peftAdapterState(model);
    adapter.config.target_modules = ['zz'];
    expectError(() => applyPeftAdapter(new Tree({ a: linear(4, 3, 1), b: linear(4, 3, 2) }), adapter), 'applyPeftAdapter', 'target_modules ["zz"] and the tensors disagree on a, b;');
  });

  it('refuses a config that is not a JSON object', () => {
    for (const config of [null, [], 3, 'x']) {
      expectError(() => applyPeftAdapter(new Tree({ fc: linear(4, 3, 1) }), { ...exported(), config: config as never }), 'applyPeftAdapter', 'adapter_config.json is not a JSON object');
    }
  });

  it('refuses a lora_alpha that is not a finite number', () => {
    for (const alpha of [Infinity, NaN, '4']) {
      const a = exported();
      a.config.lora_alpha = alpha;
      expectError(() => applyPeftAdapter(new Tree({ fc: linear(4, 3, 1) }), a), 'applyPeftAdapter', `lora_alpha = ${JSON.stringify(alpha)}; expected a finite non-zero number`);
    }
  });

  it('refuses use_dora and lora_dropout of the wrong type or range', () => {
    const refuse = (key: string, value: unknown, message: string) => {
      const a = exported();
      a.config[key] = value;
      expectError(() => applyPeftAdapter(new Tree({ fc: linear(4, 3, 1) }), a), 'applyPeftAdapter', message);
    };
    refuse('use_dora', 'yes', 'use_rslora = false and use_dora = "yes"; expected booleans');
    refuse('lora_dropout', -0.1, 'lora_dropout = -0.1; expected 0 ≤ p < 1');
    refuse('lora_dropout', '0.1', 'lora_dropout = "0.1"; expected 0 ≤ p < 1');
  });

  it('defaults: peft_type LORA, bias none, use_rslora and use_dora false; rank_pattern, alpha_pattern and modules_to_save absent or null', () => {
    const nulls = exported();
    for (const k of ['rank_pattern', 'alpha_pattern', 'modules_to_save']) nulls.config[k] = null;
    expect(applyPeftAdapter(new Tree({ fc: linear(4, 3, 1) }), nulls).replaced).toEqual(['fc']);
    const a = exported();
    for (const k of ['peft_type', 'bias', 'use_rslora', 'use_dora', 'rank_pattern', 'alpha_pattern', 'modules_to_save']) delete a.config[k];
    const model = new Tree({ fc: linear(4, 3, 1) });
    applyPeftAdapter(model, a);
    const layer = model.namedModules().find(([p]) => p === 'fc')![1];
    expect(layer).toBeInstanceOf(LoraLinear);
    expect((layer as LoraLinear).rslora).toBe(false);
  });
});
