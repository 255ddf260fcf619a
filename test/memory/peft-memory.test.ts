/**
 * The memory model of every method: a GPT training step's measured saved bytes equal the
 * analytic model (savedBreakdown over methodMemory) to the byte for each adapter kind and init;
 * at Llama scale the per-method figures follow the per-linear formulas of src/memory/adapters.ts.
 */
import { describe, expect, it } from 'vitest';
import { scope, tensor } from '../../src/index.ts';
import { savedBreakdown } from '../../src/lab/accounting.ts';
import { measureForward } from '../../src/memory/table7-columns.ts';
import { adapterSavedElements, adapterTrainable, ADAPTER_KINDS, PEFT_METHODS, type AdapterKind } from '../../src/memory/adapters.ts';
import { baseLayerActivations, layerLinears, methodMemory, MODELS } from '../../src/memory/model.ts';
import { applyAdapters, type AdapterOptions } from '../../src/lora/adapters.ts';
import { buildModule } from '../../src/nn/module.ts';
import { GPT, type GptConfig } from '../../src/nn/transformer.ts';

describe('a GPT step saves what the memory model says, for every method', () => {
  const cfg: GptConfig = { vocab: 11, dim: 8, heads: 2, layers: 2, context: 6 };
  const [b, s, r] = [3, 5, 2];
  const x = tensor(Int32Array.from({ length: b * s }, (_, i) => i % 11), { shape: [b, s] });
  const y = tensor(Int32Array.from({ length: b * s }, (_, i) => (3 * i + 1) % 11), { shape: [b, s] });
  const runs: [string, AdapterKind, Omit<AdapterOptions, 'rank'>][] = [
    ['lorapro', 'lorapro', { method: 'lorapro', alpha: 4 }],
    ['dora', 'dora', { method: 'dora', alpha: 4 }],
    ['dora, detached norm', 'dora', { method: 'dora', alpha: 4, detachNorm: true }],
    ['vera', 'vera', { method: 'vera' }],
    ['rslora', 'lora', { method: 'lora', alpha: 4, rslora: true }],
    ['pissa', 'lora', { method: 'lora', alpha: 4, init: 'pissa' }],
    ['lorafa with PiSSA A', 'lorafa', { method: 'lorafa', alpha: 4, init: 'pissa' }],
  ];
  for (const [name, kind, options] of runs) {
    it(name, () => {
      const measured = scope(() => {
        const model = buildModule(() => new GPT(cfg, { seed: 1, dtype: 'float32' }));
        applyAdapters(model, { ...options, rank: r, seed: 3, dropout: 0.1 });
        return measureForward(() => model.loss(x, y)).bytes;
      });
      expect(measured).toBe(savedBreakdown(cfg, kind as 'lora', { batch: b, seq: s, rank: r }).expected);
    });
  }
});

describe('methodMemory at Llama scale (Llama2-7B, b 8, s 1024, bf16, r 16)', () => {
  const cfg = MODELS['llama2-7b']!;
  const run = { batch: 8, seq: 1024, bytes: 2, rank: 16 };
  const N = run.batch * run.seq, L = cfg.layers;
  const linears = layerLinears(cfg);
  const base = baseLayerActivations(cfg, run).reduce((n, i) => n + i.bytes, 0);
  const inputs = [...new Map(linears.map((l) => [l.input, l.in])).values()].reduce((a, v) => a + v, 0); // shared inputs
  const sumOut = linears.reduce((n, l) => n + l.out, 0);

  it('activations: LoRA-Pro = LoRA; DoRA = LoRA + N·Σo; VeRA = N·Σ(r + o) and no X', () => {
    const act = (k: AdapterKind) => methodMemory(cfg, k, run).activations;
    const lora = L * (base + 2 * N * (inputs + linears.length * run.rank));
    expect(act('lora')).toBe(lora);
    expect(act('lorapro')).toBe(lora);
    expect(act('dora')).toBe(lora + L * 2 * N * sumOut);
    expect(act('vera')).toBe(L * (base + 2 * N * (linears.length * run.rank + sumOut)));
    expect(act('lorafa')).toBe(L * (base + 2 * N * linears.length * run.rank));
  });

  it('trainable parameters follow adapterTrainable; VeRA stores its shared A and B once', () => {
    for (const k of ADAPTER_KINDS.filter((k) => k !== 'full')) {
      expect(methodMemory(cfg, k, run).trainableParams, k).toBe(L * linears.reduce((n, l) => n + adapterTrainable(k, { d: l.in, o: l.out, r: 16 }), 0));
    }
    const vera = methodMemory(cfg, 'vera', run), full = methodMemory(cfg, 'full', run);
    expect(vera.totalParams - full.totalParams).toBe(L * linears.reduce((n, l) => n + 16 + l.out, 0) + 16 * (11008 + 11008));
    expect(vera.optimizer).toBe(vera.trainableParams * 8);
  });

  it('the catalogue maps every method to a kind, and the per-linear formulas are the table of docs/peft.md', () => {
    expect(PEFT_METHODS.map((m) => m.key)).toEqual(['full', 'lora', 'rslora', 'loraplus', 'pissa', 'lora-ga', 'lorapro', 'dora', 'vera', 'lorafa', 'lorafa-pissa', 'lorafb']);
    expect(PEFT_METHODS.every((m) => ADAPTER_KINDS.includes(m.kind))).toBe(true);
    const dims = { N: 10, d: 7, o: 5, r: 3 };
    expect(ADAPTER_KINDS.map((k) => adapterSavedElements(k, dims))).toEqual([70, 100, 30, 70, 100, 150, 80]);
  });
});
