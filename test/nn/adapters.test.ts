import { describe, expect, it } from 'vitest';
import { LorafaError, measureSaved, noGrad, ops, tensor } from '../../src/index.ts';
import { loraFactorStats } from '../../src/lora/factor-cache.ts';
import { applyAdapters, type AdapterMethod } from '../../src/lora/adapters.ts';
import { Linear } from '../../src/nn/linear.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear } from '../../src/lora/layers.ts';
import { GPT, type GptConfig } from '../../src/nn/transformer.ts';

const cfg: GptConfig = { vocab: 7, dim: 8, heads: 2, layers: 2, context: 4 };
const x = tensor([[1, 2, 3, 4], [0, 6, 5, 1]], { dtype: 'int32' });
const y = tensor([[2, 3, 4, 0], [6, 5, 1, 2]], { dtype: 'int32' });
const d = 8, h = 32, r = 2, L = 2;

describe('applyAdapters', () => {
  // per block: q, k, v, o are d→d; up d→4d; down 4d→d
  const shapes = [[d, d], [d, d], [d, d], [d, d], [d, h], [h, d]] as const;
  const expectedTrainable: Record<Extract<AdapterMethod, 'lora' | 'lorafa' | 'lorafb'>, number> = {
    lora: L * shapes.reduce((n, [i, o]) => n + r * (i + o), 0),
    lorafa: L * shapes.reduce((n, [, o]) => n + r * o, 0),
    lorafb: L * shapes.reduce((n, [i]) => n + i * r, 0),
  };

  for (const method of ['lora', 'lorafa', 'lorafb'] as const) {
    it(`${method}: replaces every q, k, v, o, up, down in place, freezes the rest, and counts parameters`, () => {
      const model = new GPT(cfg, { seed: 1 });
      const before = model.numParameters();
      const out0 = noGrad(() => model.forward(x)).dataSync();
      const report = applyAdapters(model, { method, rank: r, alpha: 4, seed: 5 });
      expect(report.replaced).toEqual([0, 1].flatMap((b) => ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp.up', 'mlp.down'].map((n) => `blocks.${b}.${n}`)));
      expect(report.trainable).toBe(expectedTrainable[method]);
      expect(report.total).toBe(before + L * shapes.reduce((n, [i, o]) => n + r * (i + o), 0)); // A and B are both stored
      const Layer = { lora: LoraLinear, lorafa: LoraFaLinear, lorafb: LoraFbLinear }[method];
      expect(model.blocks[1]!.mlp.down).toBeInstanceOf(Layer);
      expect(model.head).toBeInstanceOf(Linear);
      expect(model.tok.weight.requiresGrad).toBe(false);
      expect(model.blocks[0]!.ln1.weight.requiresGrad).toBe(false);
      // the zero factor makes ΔW = 0: the adapted model computes what the base did
      expect(noGrad(() => model.forward(x)).dataSync()).toEqual(out0);
      // gradients reach exactly the trained factors
      const loss = model.loss(x, y);
      loss.backward();
      const withGrad = model.namedParameters().filter(([, p]) => p.grad).map(([n]) => n);
      expect(withGrad.length).toBe(L * 6 * (method === 'lora' ? 2 : 1));
      expect(withGrad.every((n) => (method === 'lorafb' ? n.endsWith('lora_A') : method === 'lorafa' ? n.endsWith('lora_B') : /lora_[AB]$/.test(n)))).toBe(true);
    });
  }

  it('keeps module paths: saved tensors of an adapter are attributed to the layer it replaced', () => {
    const model = new GPT(cfg, { seed: 1 });
    applyAdapters(model, { method: 'lorafa', rank: r, alpha: 4, seed: 5 });
    const { entries } = measureSaved(() => model.loss(x, y));
    const fa = entries.filter((e) => e.op === 'loraFA');
    expect(fa.map((e) => e.module)).toContain('blocks.1.attn.q');
    expect(fa.every((e) => !/\.(q|k|v|o|up|down)\.(q|k|v|o|up|down|base)$/.test(e.module))).toBe(true);
    expect(Object.keys(model.stateDict())).toContain('blocks.0.attn.q.base.weight');
    expect(Object.keys(model.stateDict())).toContain('blocks.0.attn.q.lora_A');
  });

  it('selects layers by name list or by a regular expression on the path, and passes rank, alpha, init and correction', () => {
    const a = new GPT(cfg, { seed: 1 });
    expect(applyAdapters(a, { method: 'lora', rank: 1, alpha: 2, targets: ['q', 'v'] }).replaced).toEqual(['blocks.0.attn.q', 'blocks.0.attn.v', 'blocks.1.attn.q', 'blocks.1.attn.v']);
    const b = new GPT(cfg, { seed: 1 });
    const report = applyAdapters(b, { method: 'lorafa', rank: 3, alpha: 6, targets: /^blocks\.1\.mlp\./g, init: 'orthogonal', correction: 'none' });
    expect(report.replaced).toEqual(['blocks.1.mlp.up', 'blocks.1.mlp.down']);
    const up = b.blocks[1]!.mlp.up as unknown as LoraFaLinear;
    expect([up.rank, up.scale, up.correction]).toEqual([3, 2, 'none']);
    const A = up.A.toArraySync() as number[][]; // orthonormal columns: AᵀA = I
    const gram = (i: number, j: number) => A.reduce((s, row) => s + row[i]! * row[j]!, 0);
    expect(gram(0, 0)).toBeCloseTo(1, 5);
    expect(gram(0, 1)).toBeCloseTo(0, 5);
    expect(applyAdapters(new GPT(cfg, { seed: 1 }), { method: 'lora', rank: 1, alpha: 1, targets: /head/ }).replaced).toEqual(['head']);
  });

  it('passes dropout, correction and ridge to every layer, and gives layer i the seed seed + i', () => {
    const model = new GPT(cfg, { seed: 1 });
    const before = loraFactorStats().factorizations;
    const report = applyAdapters(model, { method: 'lorafa', rank: 2, alpha: 4, dropout: 0.3, correction: 'closed-form', ridge: 0.25, seed: 40 });
    const layers = report.replaced.map((path) => model.namedModules().find(([p]) => p === path)![1] as LoraFaLinear);
    for (const layer of layers) expect([layer.dropout, layer.correction, layer.ridge]).toEqual([0.3, 'closed-form', 0.25]);
    // each frozen A was factored once, with the ridge, at construction: training needs no new factor
    expect(loraFactorStats().factorizations).toBe(before + layers.length);
    model.loss(x, y).backward();
    expect(loraFactorStats().factorizations).toBe(before + layers.length);
    // layer i's factors are those of a layer built alone with seed 40 + i
    layers.forEach((layer, i) => {
      const alone = new LoraFaLinear(new Linear(layer.base.inFeatures, layer.base.outFeatures, { seed: 1 }), { rank: 2, alpha: 4, seed: 40 + i });
      expect(layer.A.dataSync()).toEqual(alone.A.dataSync());
    });
    expect(layers[0]!.A.dataSync()).not.toEqual(layers[1]!.A.dataSync());
    // dropout acts in training mode only
    const out = () => Array.from(noGrad(() => model.forward(x)).dataSync());
    layers.forEach((l) => l.B.assign(ops.add(l.B, 0.5))); // a non-zero adapter, so the dropped input shows
    expect(out()).not.toEqual(out());
    model.eval();
    expect(out()).toEqual(out());
  });

  it('rejects an unknown method, targets that match nothing, and a second injection', () => {
    const model = new GPT(cfg, { seed: 1 });
    expect(() => applyAdapters(model, { method: 'adalora' as AdapterMethod, rank: 1, alpha: 1 })).toThrow(/applyAdapters: method 'adalora' is unknown; expected one of lora, lorafa, lorafb, lorapro, dora, vera/);
    expect(() => applyAdapters(model, { method: 'lora', rank: 1, alpha: 1, targets: ['gate'] })).toThrow(LorafaError);
    expect(() => applyAdapters(model, { method: 'lora', rank: 1, alpha: 1, targets: ['gate'] })).toThrow(/no Linear layer matches targets \[gate\]; the Linear layers are blocks.0.attn.q, .*head/);
    applyAdapters(model, { method: 'lora', rank: 1, alpha: 1 });
    expect(() => applyAdapters(model, { method: 'lora', rank: 1, alpha: 1 })).toThrow(/'blocks.0.attn.q' already holds an adapter/);
    expect(() => applyAdapters(new GPT(cfg, { seed: 1 }), { method: 'lorafa', rank: 1, alpha: 1, ridge: -1 })).toThrow(/LoraFaLinear: ridge = -1 is invalid/);
  });
});
