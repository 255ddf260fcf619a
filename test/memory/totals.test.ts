/**
 * The analytic memory model pinned, term by term, for a GPT-2-style config (GPT-2 small: GELU,
 * dropout, tied embeddings) and a Llama-style one (Llama2-7B: SwiGLU, no dropout), every method,
 * b = 8, s = 1024, 16-bit: the hand-derived closed forms of docs/math.md ("The memory model in
 * closed form") and their values. Dropping or doubling any term of src/memory changes a number here.
 */
import { describe, expect, it } from 'vitest';
import { memory } from '../../src/index.ts';
import type { AdapterKind } from '../../src/memory/adapters.ts';

const { methodMemory, MODELS } = memory;
const [b, s, e] = [8, 1024, 2];
const N = b * s;

/** weights, gradients, AdamW and the total from the parameter counts and the activations. */
function expectTotals(cfg: memory.TransformerConfig, rank: number, kind: AdapterKind, params: number, trainable: number, activations: number): void {
  const m = methodMemory(cfg, kind, { batch: b, seq: s, bytes: e, rank });
  expect({ params: m.totalParams, trainable: m.trainableParams, activations: m.activations }, kind).toEqual({ params, trainable, activations });
  expect(m.weights).toBe(params * e);
  expect(m.gradients).toBe(trainable * e);
  expect(m.optimizer).toBe(trainable * 8); // two fp32 moments
  expect(m.total).toBe((params + trainable) * e + 8 * trainable + activations);
}

describe('GPT-2 small (L 12, d 768, h 12, f 3072, V 50257; GELU, dropout, tied), r = 8', () => {
  const cfg: memory.TransformerConfig = { name: 'GPT-2', layers: 12, hidden: 768, heads: 12, ffn: 3072, vocab: 50257, mlp: 'gelu', dropout: true, tiedEmbeddings: true };
  const [L, d, h, f, V, r] = [12, 768, 12, 3072, 50257, 8];
  const P = h * b * s * s; //                                 attention probabilities b·h·s²
  const base = L * (4 * d * d + 2 * d * f + 2 * d) + d + V * d; // q, k, v, o, up, down, two LayerNorms; final LN; one embedding table
  const layer = 20 * N * d + 5 * P; //                       Korthikanti et al. without the linear inputs (16-bit, dropout)
  const inputs = 2 * N * (3 * d + f); //                      attention LN output, attention output, MLP LN output, GELU output
  const sumIn = 5 * d + f, sumOut = 5 * d + f; //              Σ d_in and Σ d_out over q, k, v, o, up, down

  it('the closed forms have the values docs/math.md tabulates', () => {
    expect(base).toBe(123_551_232);
    expect(L * (layer + inputs)).toBe(L * (34 * N * d + 5 * P)); // Full-FT is Korthikanti's 34·bsd + 5·bhs² per layer
    expect(L * (layer + inputs)).toBe(8_606_711_808);
  });

  it.each<[AdapterKind, number, number, number]>([
    ['full', base, base, L * (layer + inputs)],
    ['lora', base + L * r * (sumIn + sumOut), L * r * (sumIn + sumOut), L * (layer + inputs + 6 * 2 * N * r)],
    ['lorafa', base + L * r * (sumIn + sumOut), L * r * sumOut, L * (layer + 6 * 2 * N * r)],
    ['lorafb', base + L * r * (sumIn + sumOut), L * r * sumIn, L * (layer + inputs)],
    ['lorapro', base + L * r * (sumIn + sumOut), L * r * (sumIn + sumOut), L * (layer + inputs + 6 * 2 * N * r)],
    ['dora', base + L * (r * (sumIn + sumOut) + sumOut), L * (r * (sumIn + sumOut) + sumOut), L * (layer + inputs + 6 * 2 * N * r + 2 * N * sumOut)],
    ['vera', base + L * (6 * r + sumOut) + r * (f + f), L * (6 * r + sumOut), L * (layer + 2 * N * (6 * r + sumOut))],
  ])('%s', (kind, params, trainable, activations) => expectTotals(cfg, r, kind, params, trainable, activations));

  it('pinned values', () => {
    const act = (k: AdapterKind) => methodMemory(cfg, k, { batch: b, seq: s, bytes: e, rank: r }).total;
    expect(['full', 'lora', 'lorafa', 'lorafb', 'dora', 'vera'].map((k) => act(k as AdapterKind)))
      .toEqual([10_089_326_592, 8_879_176_704, 7_815_576_576, 8_863_104_000, 10_239_126_528, 9_166_341_888]);
  });
});

describe('Llama2-7B (L 32, d 4096, h 32, f 11008, V 32000; SwiGLU, no dropout, untied), r = 16', () => {
  const cfg = MODELS['llama2-7b']!;
  const [L, d, h, f, V, r] = [32, 4096, 32, 11008, 32000, 16];
  const P = h * b * s * s;
  const base = L * (4 * d * d + 3 * d * f + 2 * d) + d + 2 * V * d; // q, k, v, o, gate, up, down; two RMS/LayerNorms
  const layer = e * (5 * N * d + P + 3 * N * f); //               LN inputs, Q, K, V, softmax; gate output, silu output, up output
  const inputs = e * N * (3 * d + f); //                           attention LN output, attention output, MLP LN output, SwiGLU output
  const sumIn = 6 * d + f, sumOut = 5 * d + 2 * f; //               over q, k, v, o, gate, up, down

  it('the closed forms have the values docs/math.md tabulates', () => {
    expect(base).toBe(6_738_415_616);
    expect(L * (layer + inputs)).toBe(57_445_187_584);
  });

  it.each<[AdapterKind, number, number, number]>([
    ['full', base, base, L * (layer + inputs)],
    ['lora', base + L * r * (sumIn + sumOut), L * r * (sumIn + sumOut), L * (layer + inputs + 7 * e * N * r)],
    ['lorafa', base + L * r * (sumIn + sumOut), L * r * sumOut, L * (layer + 7 * e * N * r)],
    ['lorafb', base + L * r * (sumIn + sumOut), L * r * sumIn, L * (layer + inputs)],
    ['lorapro', base + L * r * (sumIn + sumOut), L * r * (sumIn + sumOut), L * (layer + inputs + 7 * e * N * r)],
    ['dora', base + L * (r * (sumIn + sumOut) + sumOut), L * (r * (sumIn + sumOut) + sumOut), L * (layer + inputs + 7 * e * N * r + e * N * sumOut)],
    ['vera', base + L * (7 * r + sumOut) + r * (f + f), L * (7 * r + sumOut), L * (layer + e * N * (7 * r + sumOut))],
  ])('%s', (kind, params, trainable, activations) => expectTotals(cfg, r, kind, params, trainable, activations));

  it('pinned values', () => {
    const total = (k: AdapterKind) => methodMemory(cfg, k, { batch: b, seq: s, bytes: e, rank: r }).total;
    expect(['full', 'lora', 'lorafa', 'lorafb', 'dora', 'vera'].map((k) => total(k as AdapterKind)))
      .toEqual([138_306_174_976, 71_460_462_592, 59_064_459_264, 71_184_162_816, 93_756_923_904, 81_064_134_656]);
  });
});
