/**
 * `lorafa calc --checkpoint none|full|selective` against measured bytes: for every checkpointing
 * mode and every method the lab's GPT can be built with, calc's activations column (L layers) is
 * what measureSaved reports for a GPT step with its blocks checkpointed that way, less what lies
 * outside the layers (the exact corrections of src/lab/accounting.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import { run as calc } from '../../src/cli/calc.ts';
import { scope, tensor } from '../../src/index.ts';
import { savedBreakdown } from '../../src/lab/accounting.ts';
import { applyAdapters } from '../../src/lora/adapters.ts';
import { fmtBytes } from '../../src/memory/format.ts';
import { CHECKPOINTING, methodMemory, type Checkpointing } from '../../src/memory/model.ts';
import { transformerConfig } from '../../src/lab/accounting.ts';
import { PEFT_METHODS, type AdapterKind } from '../../src/memory/adapters.ts';
import { measureForward } from '../../src/memory/table7-columns.ts';
import { buildModule } from '../../src/nn/module.ts';
import { GPT, type GptConfig } from '../../src/nn/transformer.ts';

const cfg: GptConfig = { vocab: 11, dim: 8, heads: 2, layers: 2, context: 6 };
const [b, s, r] = [3, 5, 2];
const KINDS: AdapterKind[] = ['full', 'lora', 'lorafa', 'lorafb', 'lorapro', 'dora'];

/** calc's table: method label → column name → cell. */
async function calcRows(checkpoint: Checkpointing): Promise<Map<string, Record<string, string>>> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    const args = ['--model', 'custom', '--layers', '2', '--hidden', '8', '--heads', '2', '--ffn', '32', '--vocab', '11', '--mlp', 'gelu',
      '--dtype', 'fp32', '--batch', String(b), '--seq', String(s), '--rank', String(r), '--checkpoint', checkpoint];
    expect(await calc(args)).toBe(0);
  } finally {
    log.mockRestore();
  }
  const text = lines.join('\n').split('\n');
  const header = text.find((l) => l.startsWith('method '))!.split(/ {2,}/);
  return new Map(PEFT_METHODS.map((p) => {
    const cells = text.find((l) => l.startsWith(`${p.label} `))!.slice(p.label.length).trim().split(/ {2,}/);
    return [p.label, Object.fromEntries(header.slice(1).map((h, i) => [h, cells[i]!]))];
  }));
}

/** Saved bytes inside the L layers of a measured GPT step. */
function measuredLayers(kind: AdapterKind, checkpoint: Checkpointing): number {
  const x = tensor(Int32Array.from({ length: b * s }, (_, i) => i % 11), { shape: [b, s] });
  const y = tensor(Int32Array.from({ length: b * s }, (_, i) => (3 * i + 1) % 11), { shape: [b, s] });
  const measured = scope(() => {
    const model = buildModule(() => new GPT(cfg, { seed: 1 })).setCheckpointing(checkpoint);
    if (kind !== 'full') applyAdapters(model, { method: kind as 'lora', rank: r, alpha: 4, seed: 3 });
    return measureForward(() => model.loss(x, y)).bytes;
  });
  const outside = savedBreakdown(cfg, kind as 'lora', { batch: b, seq: s, rank: r, checkpoint }).corrections.reduce((n, c) => n + c.bytes, 0);
  return measured - outside;
}

describe('lorafa calc --checkpoint matches the measured GPT', () => {
  const tcfg = transformerConfig(cfg);
  for (const checkpoint of CHECKPOINTING) {
    it(`--checkpoint ${checkpoint}, float32: every method's activations are the measured bytes of the layers`, async () => {
      const rows = await calcRows(checkpoint);
      for (const p of PEFT_METHODS.filter((m) => KINDS.includes(m.kind))) {
        const measured = measuredLayers(p.kind, checkpoint);
        expect(methodMemory(tcfg, p.kind, { batch: b, seq: s, bytes: 4, rank: r, checkpoint }).activations, `${p.label} (${checkpoint})`).toBe(measured);
        expect(rows.get(p.label)!.activations, `${p.label} (${checkpoint})`).toBe(fmtBytes(measured));
      }
    });
  }

  it('full keeps L·N·d·4 bytes for every method, selective L·b·h·s²·4 less than none; the recomputed column is one layer', async () => {
    const [none, full, selective] = await Promise.all(CHECKPOINTING.map((c) => calcRows(c)));
    const N = b * s, d = 8, h = 2, L = 2;
    for (const p of PEFT_METHODS) {
      expect(full.get(p.label)!.activations).toBe(fmtBytes(L * N * d * 4));
      expect(selective.get(p.label)!.recomputed).toBe(fmtBytes(h * b * s * s * 4)); // one layer's softmax output
      expect(none.get(p.label)!.recomputed).toBeUndefined(); // no such column without checkpointing
    }
    for (const kind of KINDS) expect(measuredLayers(kind, 'none') - measuredLayers(kind, 'selective')).toBe(L * h * b * s * s * 4);
  });
});
