import { describe, expect, it } from 'vitest';
import { gradcheck, LorafaError, measureSaved, noGrad, scope, tensor, type Tensor } from '../../src/index.ts';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.ts';
import { CausalSelfAttention } from '../../src/nn/attention.ts';
import { Embedding, LayerNorm, MLP, Sequential } from '../../src/nn/layers.ts';
import { GPT, type GptConfig } from '../../src/nn/transformer.ts';

const tiny: GptConfig = { vocab: 5, dim: 4, heads: 2, layers: 1, context: 3 };
const ids = (rows: number[][]) => tensor(rows, { dtype: 'int32' });

describe('GPT', () => {
  it('passes gradcheck on a tiny float64 model (every parameter)', () => {
    const model = new GPT(tiny, { dtype: 'float64', seed: 3 });
    const x = ids([[0, 3, 1], [4, 2, 2]]), y = ids([[3, 1, 0], [2, 2, 4]]);
    const params = model.parameters();
    const r = gradcheck(() => model.loss(x, y), params, { atol: 1e-7, rtol: 1e-5 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    expect(params.length).toBe(2 + 1 * (2 + 8 + 2 + 4) + 2 + 1); // tok, pos; ln1, q k v o, ln2, up down; lnF; head
  });

  it('is causal: changing a later token leaves earlier logits unchanged', () => {
    const model = new GPT({ ...tiny, context: 4 }, { seed: 1 });
    const a = noGrad(() => model.forward(ids([[1, 2, 3, 4]]))).toArraySync() as number[][][];
    const b = noGrad(() => model.forward(ids([[1, 2, 0, 0]]))).toArraySync() as number[][][];
    expect(b[0]!.slice(0, 2)).toEqual(a[0]!.slice(0, 2));
    expect(b[0]![2]).not.toEqual(a[0]![2]);
  });

  it('runs sequences shorter than its context and names saved tensors by module path', () => {
    const model = new GPT({ ...tiny, context: 8 }, { seed: 1 });
    const { entries, result } = measureSaved(() => model.loss(ids([[1, 2, 3]]), ids([[2, 3, 4]])));
    expect(result.shape).toEqual([]);
    const modules = new Set(entries.map((e) => e.module));
    for (const m of ['tok', 'blocks.0.ln1', 'blocks.0.attn.q', 'blocks.0.attn', 'blocks.0.attn.o', 'blocks.0.mlp.up', 'blocks.0.mlp', 'blocks.0.mlp.down', 'lnF', 'head']) {
      expect(modules, m).toContain(m);
    }
    result.backward();
  });

  it('is reproducible from its seed and round-trips through stateDict and safetensors', async () => {
    const a = new GPT(tiny, { seed: 7 }), b = new GPT(tiny, { seed: 7 }), c = new GPT(tiny, { seed: 8 });
    expect(a.tok.weight.dataSync()).toEqual(b.tok.weight.dataSync());
    expect(a.tok.weight.dataSync()).not.toEqual(c.tok.weight.dataSync());
    const names = Object.keys(a.stateDict());
    expect(names).toContain('blocks.0.attn.q.weight');
    expect(names.some((n) => n.endsWith('mask') || n.endsWith('scale'))).toBe(false); // transient buffers
    const file = parseSafetensors(await serializeSafetensors(a.stateDict()));
    const versions = c.parameters().map((p) => p.version);
    c.loadStateDict(file.tensors);
    c.parameters().forEach((p, i) => expect(p.version).toBe(versions[i]! + 1));
    for (const [n, t] of Object.entries(a.stateDict())) expect(c.stateDict()[n]!.dataSync()).toEqual(t.dataSync());
  });

  it('loads a state dict of another float dtype and reports names with strict off', () => {
    const a = new GPT(tiny, { seed: 7, dtype: 'float64' }), b = new GPT(tiny, { seed: 1 });
    const state: Record<string, Tensor> = { ...a.stateDict(), extra: tensor([1]) };
    delete state['head.weight'];
    expect(() => b.loadStateDict(state)).toThrow(/loadStateDict: names differ: missing \[head.weight\], unexpected \[extra\]/);
    expect(b.loadStateDict(state, { strict: false })).toEqual({ missing: ['head.weight'], unexpected: ['extra'] });
    expect(b.tok.weight.dtype).toBe('float32');
    expect(Array.from(b.tok.weight.dataSync())).toEqual(Array.from(Float32Array.from(a.tok.weight.dataSync())));
    expect(() => b.loadStateDict({ ...a.stateDict(), 'tok.weight': tensor([1, 2]) })).toThrow(/'tok.weight': source \[2\] \(float32, cpu\) does not fit target \[5, 4\]/);
  });

  it('rejects bad configs and inputs', () => {
    expect(() => new GPT({ ...tiny, layers: 0 })).toThrow('GPT: config.layers is the number 0; expected a positive integer');
    expect(() => new GPT({ ...tiny, heads: 3 })).toThrow(/CausalSelfAttention: width 4 is not divisible by 3 heads/);
    const model = new GPT(tiny, { seed: 1 });
    expect(() => model.forward(ids([[1, 2, 3, 4]]))).toThrow(LorafaError);
    expect(() => model.forward(ids([[1, 2, 3, 4]]))).toThrow(/GPT: idx \[1, 4\] \(int32, cpu\) does not fit; expected int32 \[batch, seq ≤ 3\]/);
    expect(() => model.forward(tensor([[1, 2]]))).toThrow(/GPT: idx \[1, 2\] \(float32, cpu\)/);
  });
});

describe('layers', () => {
  it('Embedding looks rows up and rejects float indices', () => {
    const e = new Embedding(3, 2, { seed: 1 });
    const w = e.weight.toArraySync() as number[][];
    expect(e.forward(ids([[2, 0]])).toArraySync()).toEqual([[w[2], w[0]]]);
    expect(() => e.forward(tensor([1]))).toThrow(/Embedding: indices \[1\] \(float32, cpu\) must be int32/);
  });

  it('LayerNorm normalises the last axis and checks its width', () => {
    const ln = new LayerNorm(2);
    expect(ln.forward(tensor([[1, 3]], { dtype: 'float32' })).toArraySync()).toEqual([[expect.closeTo(-1, 4), expect.closeTo(1, 4)]]);
    expect(() => ln.forward(tensor([[1, 2, 3]]))).toThrow(/LayerNorm: x \[1, 3\] \(float32, cpu\) does not fit/);
  });

  it('MLP and attention drop out only in training mode', () => {
    const mlp = new MLP(4, 8, 0.5, { seed: 2 });
    const x = tensor([[1, 2, 3, 4]]);
    const train = mlp.forward(x).dataSync();
    mlp.eval();
    const evalOut = noGrad(() => mlp.forward(x)).dataSync();
    expect(train.some((v) => v === 0)).toBe(true);
    expect(evalOut.every((v) => v !== 0)).toBe(true);
    const attn = new CausalSelfAttention(4, 2, 3, 0.5, { seed: 2 }).eval();
    expect(() => attn.forward(tensor([[1, 2, 3, 4]]))).toThrow(/CausalSelfAttention: x \[1, 4\] \(float32, cpu\) does not fit/);
  });

  it('Sequential applies its children in order and indexes them', () => {
    const seq = new Sequential([new LayerNorm(2), new LayerNorm(2)]);
    expect(seq.length).toBe(2);
    expect(seq[1]).toBeInstanceOf(LayerNorm);
    expect(Object.keys(seq.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    scope(() => expect(seq.forward(tensor([[0, 2]])).toArraySync()).toEqual([[expect.closeTo(-1, 4), expect.closeTo(1, 4)]]));
  });
});
