/**
 * The memory model in every precision × checkpointing mode against measured bytes: for the lab's
 * GPT at small sizes, built in the precision's weight dtype (and run under its autocast), what
 * measureSaved reports for a step's forward is savedBreakdown's expected bytes exactly, and
 * `lorafa calc --dtype … --checkpoint …` prints methodMemory's activations for the layers.
 */
import { describe, expect, it, vi } from 'vitest';
import { run as calc } from '../../src/cli/calc.ts';
import { scope, tensor } from '../../src/index.ts';
import { savedBreakdown, transformerConfig } from '../../src/lab/accounting.ts';
import { applyAdapters } from '../../src/lora/adapters.ts';
import { fmtBytes } from '../../src/memory/format.ts';
import { CHECKPOINTING, methodMemory, PRECISION_BYTES, type Checkpointing } from '../../src/memory/model.ts';
import { PRECISION_DTYPES, TRAINING_PRECISIONS, type TrainingPrecision } from '../../src/memory/precision.ts';
import { PEFT_METHODS, type AdapterKind } from '../../src/memory/adapters.ts';
import { measureForward } from '../../src/memory/table7-columns.ts';
import { buildModule } from '../../src/nn/module.ts';
import { GPT, type GptConfig } from '../../src/nn/transformer.ts';

const cfg: GptConfig = { vocab: 11, dim: 8, heads: 2, layers: 2, context: 6 };
const [b, s, r] = [3, 5, 2];
const KINDS: AdapterKind[] = ['full', 'lora', 'lorafa', 'lorafb', 'lorapro', 'dora'];

function measured(kind: AdapterKind, checkpoint: Checkpointing, precision: TrainingPrecision): number {
  const x = tensor(Int32Array.from({ length: b * s }, (_, i) => i % 11), { shape: [b, s] });
  const y = tensor(Int32Array.from({ length: b * s }, (_, i) => (3 * i + 1) % 11), { shape: [b, s] });
  return scope(() => {
    const { weights, autocast } = PRECISION_DTYPES[precision];
    const model = buildModule(() => new GPT(cfg, { seed: 1, dtype: weights })).setCheckpointing(checkpoint);
    model.autocast = autocast;
    if (kind !== 'full') applyAdapters(model, { method: kind as 'lora', rank: r, alpha: 4, seed: 3 });
    else model.unfreeze();
    return measureForward(() => model.loss(x, y)).bytes;
  });
}

async function calcActivations(precision: TrainingPrecision, checkpoint: Checkpointing): Promise<Map<string, string>> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    const args = ['--model', 'custom', '--layers', '2', '--hidden', '8', '--heads', '2', '--ffn', '32', '--vocab', '11', '--mlp', 'gelu',
      '--dtype', precision, '--batch', String(b), '--seq', String(s), '--rank', String(r), '--checkpoint', checkpoint];
    expect(await calc(args)).toBe(0);
  } finally {
    log.mockRestore();
  }
  const text = lines.join('\n').split('\n');
  const header = text.find((l) => l.startsWith('method '))!.split(/ {2,}/);
  const col = header.indexOf('activations');
  return new Map(PEFT_METHODS.map((p) => [p.label, text.find((l) => l.startsWith(`${p.label} `))!.slice(p.label.length).trim().split(/ {2,}/)[col - 1]!]));
}

describe('the memory model and calc match measured bytes in every precision × checkpointing', () => {
  for (const precision of TRAINING_PRECISIONS) {
    for (const checkpoint of CHECKPOINTING) {
      it(`--dtype ${precision} --checkpoint ${checkpoint}`, async () => {
        const rows = await calcActivations(precision, checkpoint);
        for (const p of PEFT_METHODS.filter((m) => KINDS.includes(m.kind))) {
          const bytes = measured(p.kind, checkpoint, precision);
          const breakdown = savedBreakdown(cfg, p.kind, { batch: b, seq: s, rank: r, checkpoint, precision });
          expect(breakdown.expected, `${p.label}: savedBreakdown`).toBe(bytes);
          const outside = breakdown.corrections.reduce((n, c) => n + c.bytes, 0);
          const layers = methodMemory(transformerConfig(cfg), p.kind, { batch: b, seq: s, bytes: PRECISION_BYTES[precision], rank: r, checkpoint, precision }).activations;
          expect(layers, `${p.label}: methodMemory`).toBe(bytes - outside);
          expect(rows.get(p.label), `${p.label}: calc`).toBe(fmtBytes(bytes - outside));
        }
      });
    }
  }
});
