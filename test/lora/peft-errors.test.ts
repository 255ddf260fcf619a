/** The remaining error paths of the PEFT methods' layers, inits and format: each names its op, what was given and what was expected. */
import { describe, expect, it } from 'vitest';
import { ops, randn, type Tensor } from '../../src/index.ts';
import { applyAdapters } from '../../src/lora/adapters.ts';
import { DoraLinear } from '../../src/lora/dora-layer.ts';
import { fullGradients } from '../../src/lora/lora-ga.ts';
import { LoraLinear, LoraProLinear } from '../../src/lora/layers.ts';
import { applyPeftAdapter, peftAdapterState, type PeftAdapter } from '../../src/lora/peft-format.ts';
import { VeraLinear, VeraProjections } from '../../src/lora/vera-layer.ts';
import { Linear } from '../../src/nn/linear.ts';
import { Module } from '../../src/nn/module.ts';
import { expectError } from '../helpers/errors.ts';

const linear = (d: number, o: number) => new Linear(d, o, { dtype: 'float64', seed: 1 });

class Two extends Module {
  a: Linear;
  b: Linear;
  constructor(d = 4) {
    super();
    this.a = this.registerModule('a', linear(d, 4));
    this.b = this.registerModule('b', linear(4, 3));
  }
  forward(x: Tensor): Tensor {
    return this.b.forward(this.a.forward(x));
  }
}

describe('layer options', () => {
  it('rslora, detachNorm, correction on LoRA-Pro, dInitial, the LoRA-GA gamma', () => {
    expectError(() => new LoraLinear(linear(4, 3), { rank: 1, alpha: 1, rslora: 1 as never }), 'LoraLinear', 'rslora = 1 is invalid; expected true or false');
    expectError(() => new DoraLinear(linear(4, 3), { rank: 1, alpha: 1, detachNorm: 'no' as never }), 'DoraLinear', 'detachNorm = no is invalid');
    expectError(() => new LoraProLinear(linear(4, 3), { rank: 1, alpha: 1, correction: 'none' }), 'LoraProLinear', "correction = 'none' does not apply");
    const proj = new VeraProjections(2, 4, 3, { dtype: 'float64' });
    expectError(() => new VeraLinear(linear(4, 3), proj, { dInitial: NaN }), 'VeraLinear', 'dInitial = NaN is invalid');
    expectError(() => new VeraLinear(linear(4, 3), proj, { dropout: 2 }), 'VeraLinear', 'dropout = 2 is out of range');
    expectError(() => new LoraLinear(linear(4, 4), { rank: 1, alpha: 1, svdInit: { gradient: new Float64Array(16), gamma: 0 } }), 'LoraLinear', 'LoRA-GA gamma = 0 is invalid');
  });

  it('fullGradients: a loss that does not reach a target', async () => {
    const m = new Two();
    await expect(fullGradients(m, () => ops.sum(m.a.forward(randn([2, 4], { dtype: 'float64' }))), { targets: ['a', 'b'] }))
      .rejects.toThrow(/fullGradients: 'b' got no gradient: the loss does not depend on it/);
  });
});

describe('PEFT export and load', () => {
  const adapter = (): PeftAdapter => {
    const m = new Two();
    applyAdapters(m, { method: 'lora', rank: 2, alpha: 4, targets: ['a', 'b'] });
    return peftAdapterState(m);
  };
  const refuse = (change: (a: PeftAdapter) => void, ...parts: string[]) => {
    const a = adapter();
    change(a);
    expectError(() => applyPeftAdapter(new Two(), a), 'applyPeftAdapter', ...parts);
  };

  it('refuses config fields it cannot honour and keys it does not know', () => {
    refuse((a) => { a.config.lora_alpha = 0; }, 'lora_alpha = 0; expected a finite non-zero number');
    refuse((a) => { a.config.use_rslora = 'yes'; }, 'use_rslora = "yes" and use_dora = false; expected booleans');
    refuse((a) => { a.config.lora_dropout = 1; }, 'lora_dropout = 1; expected 0 ≤ p < 1');
    refuse((a) => { a.config.modules_to_save = ['head']; }, 'modules_to_save = ["head"] is not supported');
    refuse((a) => { a.config.target_modules = 3; }, 'target_modules = 3; expected a list of module names or a regular expression');
    refuse((a) => { a.tensors = { 'model.a.lora_A.weight': a.tensors['base_model.model.a.lora_A.weight']! }; }, "key 'model.a.lora_A.weight' is not a LoRA tensor");
    refuse((a) => { a.tensors = {}; }, 'the adapter has no tensors');
    refuse((a) => { a.config = [] as never; }, 'adapter_config.json is not a JSON object');
    const a = adapter();
    expectError(() => applyPeftAdapter(new Two(), a, { method: 'vera' as never }), 'applyPeftAdapter', "method 'vera' is unknown");
    a.config.target_modules = '(a|b)';
    expect(applyPeftAdapter(new Two(), a).replaced).toEqual(['a', 'b']); // a regular expression, full match
  });

  it('refuses a rank above min(d, o), and a method option for a DoRA adapter', () => {
    const dora = new Two();
    applyAdapters(dora, { method: 'dora', rank: 1, alpha: 1, targets: ['a'] });
    expectError(() => applyPeftAdapter(new Two(), peftAdapterState(dora), { method: 'lorafa' }), 'applyPeftAdapter', "the adapter is DoRA (use_dora); expected no method option (got 'lorafa')");
    const tooWide = adapter();
    tooWide.config.r = 5;
    tooWide.tensors['base_model.model.a.lora_A.weight'] = randn([5, 4], { dtype: 'float64' });
    tooWide.tensors['base_model.model.a.lora_B.weight'] = randn([4, 5], { dtype: 'float64' });
    tooWide.tensors['base_model.model.b.lora_A.weight'] = randn([5, 4], { dtype: 'float64' });
    tooWide.tensors['base_model.model.b.lora_B.weight'] = randn([3, 5], { dtype: 'float64' });
    expectError(() => applyPeftAdapter(new Two(), tooWide), 'applyPeftAdapter', "r = 5 exceeds min(d, o) = 4 of 'a'");
  });

  it('refuses exports it cannot convert', () => {
    const dora = new Two();
    applyAdapters(dora, { method: 'dora', rank: 1, alpha: 1, init: 'pissa', targets: ['a'] });
    expectError(() => peftAdapterState(dora), 'peftAdapterState', 'a DoRA adapter with an SVD init cannot be converted onto the original W');
    const pissa = new Two();
    applyAdapters(pissa, { method: 'lora', rank: 3, alpha: 1, init: 'pissa', targets: ['b'] });
    expectError(() => peftAdapterState(pissa), 'peftAdapterState', 'needs rank 2r = 6, above min(d, o) of some layer');
  });
});
