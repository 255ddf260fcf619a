/**
 * The saved bytes of a GPT step (src/memory/gpt-step.ts): measured against the model for every
 * subset of adapted linears (all 64, with and without dropout), and the itemised corrections the
 * lab's report prints.
 */
import { describe, expect, it } from 'vitest';
import { scope, tensor } from '../../src/index.ts';
import { savedBreakdown, transformerConfig } from '../../src/memory/gpt-step.ts';
import { measureForward } from '../../src/memory/table7-columns.ts';
import { applyAdapters, DEFAULT_TARGETS } from '../../src/lora/adapters.ts';
import { buildModule } from '../../src/nn/module.ts';
import { GPT, type GptConfig } from '../../src/nn/transformer.ts';

const [b, s, r] = [2, 3, 1];
const ids = (k: number) => tensor(Int32Array.from({ length: b * s }, (_, i) => (k * i + 1) % 5), { shape: [b, s] });
const subsets = Array.from({ length: 64 }, (_, m) => DEFAULT_TARGETS.filter((_, i) => m & (1 << i)));

function measured(cfg: GptConfig, method: 'lorafa' | 'lora', targets: readonly string[]): number {
  return scope(() => {
    const model = buildModule(() => new GPT(cfg, { seed: 2 }));
    if (targets.length) applyAdapters(model, { method, rank: r, alpha: 2, targets, seed: 4 });
    else model.freeze();
    return measureForward(() => model.loss(ids(1), ids(2))).bytes;
  });
}

describe('savedBreakdown for every subset of adapted linears', () => {
  for (const dropout of [0, 0.2]) {
    it(`LoRA-FA and LoRA on each of the 64 subsets of q, k, v, o, up, down (dropout ${dropout})`, () => {
      const cfg: GptConfig = { vocab: 5, dim: 4, heads: 2, layers: 2, context: s, dropout };
      for (const targets of subsets) {
        for (const method of ['lorafa', 'lora'] as const) {
          expect(measured(cfg, method, targets), `${method} [${targets.join(', ')}]`).toBe(savedBreakdown(cfg, method, { batch: b, seq: s, rank: r, targets }).expected);
        }
      }
    });
  }
});

describe('the corrections, as the lab prints them', () => {
  const cfg: GptConfig = { vocab: 5, dim: 4, heads: 2, layers: 2, context: s };
  const N = b * s, e = 4;
  const list = (method: 'full' | 'lorafa', extra: Partial<GptConfig> = {}, targets?: string[]) =>
    savedBreakdown({ ...cfg, ...extra }, method, { batch: b, seq: s, rank: r, targets }).corrections.map((c) => [c.what, c.bytes]);

  it('Full-FT (the targets do not matter): LayerNorm statistics, token indices, final LayerNorm, head input, loss', () => {
    expect(list('full')).toEqual([
      ['LayerNorm mean and rstd (5 LayerNorms × 2 × N floats)', 5 * 2 * N * e], ['token indices (int32 [b, s])', N * 4],
      ['final LayerNorm input', N * 4 * e], ['output head input', N * 4 * e], ['cross entropy: logits, logsumexp, targets, count', (N * 5 + 2 * N + 1) * e],
    ]);
    expect(list('full', {}, ['q'])).toEqual(list('full'));
  });

  it('LoRA-FA: block 0 up to its first adapted linear, and the masks when there is dropout', () => {
    expect(list('lorafa').map(([what]) => what)).toEqual([
      'LayerNorm mean and rstd (5 LayerNorms × 2 × N floats)', 'block 0 before its first adapted linear', 'final LayerNorm input', 'cross entropy: logits, logsumexp, targets, count',
    ]);
    expect(list('lorafa')[1]![1]).toBe(-(N * 4 + 2 * N) * e); // all six adapted: block 0's attention LayerNorm input and statistics
    const masks = list('lorafa', { dropout: 0.1 }).at(-1)!;
    expect(masks).toEqual(['dropout masks', -2 * (2 * b * s * s + 2 * N * 4)]); // per layer: attention (b·h·s²) and two N·d masks, 1 byte each
  });

  it('nothing adapted: nothing is saved, whatever the model says', () => {
    const none = savedBreakdown(cfg, 'lorafa', { batch: b, seq: s, rank: r, targets: [] });
    expect(none.expected).toBe(0);
    expect(none.corrections).toEqual([{ what: 'everything', bytes: -none.analytic, why: expect.stringContaining('nothing needs a gradient') }]);
    expect(none.analytic).toBeGreaterThan(0);
  });

  it('every correction says why', () => {
    for (const method of ['full', 'lorafa'] as const) {
      for (const c of savedBreakdown({ ...cfg, dropout: 0.1 }, method, { batch: b, seq: s, rank: r }).corrections) expect(c.why.length, c.what).toBeGreaterThan(20);
    }
  });

  it('our GPT as the analytic model sees it', () => {
    expect(transformerConfig({ ...cfg, dropout: 0.1 })).toEqual({ name: 'tiny GPT', layers: 2, hidden: 4, heads: 2, ffn: 16, vocab: 5, mlp: 'gelu', dropout: true, tiedEmbeddings: false });
    expect(transformerConfig(cfg).dropout).toBe(false);
  });
});
