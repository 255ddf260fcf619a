/**
 * The lab in 16-bit: `lorafa lab --dtype bf16 --checkpoint selective` runs and its saved bytes are
 * predicted exactly; a bf16 LoRA-FA GPT with selective checkpointing (and one under autocast-bf16)
 * lowers its loss on a batch it trains on; bad --dtype values are refused.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as lab } from '../../src/cli/lab.ts';
import { BASE_CHECKPOINT, loadCheckpoint } from '../../src/lab/checkpoint.ts';
import { loadText } from '../../src/data/load-text.ts';
import { BatchSampler } from '../../src/data/text.ts';
import { trainStep } from '../../src/lab/train.ts';
import { applyAdapters } from '../../src/lora/adapters.ts';
import { PRECISION_DTYPES, type TrainingPrecision } from '../../src/memory/precision.ts';
import { AdamW } from '../../src/optim/adamw.ts';

async function quiet(fn: () => Promise<number>): Promise<{ code: number; err: string }> {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  const code = await fn();
  return { code, err: error.mock.calls.map((c) => c.join(' ')).join('\n') };
}

afterEach(() => vi.restoreAllMocks());

describe('lab --dtype', () => {
  it('--dtype bf16 --checkpoint selective runs, in bfloat16, with its saved bytes predicted exactly', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorafa-lab-bf16-'));
    const { code } = await quiet(() => lab(['--dtype', 'bf16', '--checkpoint', 'selective', '--steps', '2', '--batch', '2', '--seq', '16', '--seeds', '1', '--methods', 'lorafa', '--out', out]));
    expect(code).toBe(0);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('Precision: bf16.');
    expect(report.match(/holds exactly\./g)?.length).toBe(1);
    const { settings, results } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { settings: { precision: string }; results: { savedBytes: number; expectedBytes: number; curve: unknown[] }[] };
    expect(settings.precision).toBe('bf16');
    expect(results[0]!.savedBytes).toBe(results[0]!.expectedBytes);
    expect(results[0]!.curve).toHaveLength(2);
    expect((await quiet(() => lab(['--dtype', 'float32']))).err).toMatch(/--dtype float32: expected one of fp32, bf16, fp16, autocast-bf16/);
  });

  for (const precision of ['bf16', 'autocast-bf16'] as TrainingPrecision[]) {
    it(`a LoRA-FA GPT in ${precision} with selective checkpointing lowers its loss on a batch it trains on`, async () => {
      const { weights, autocast } = PRECISION_DTYPES[precision];
      const { model, tokenizer } = await loadCheckpoint(BASE_CHECKPOINT, 'cpu', weights);
      model.autocast = autocast;
      applyAdapters(model, { method: 'lorafa', rank: 4, alpha: 8, seed: 1 });
      model.setCheckpointing('selective');
      const opt = new AdamW(model.trainableParameters(), { lr: 0.01 });
      const batch = new BatchSampler(tokenizer.encode(loadText('finetune')), 2, 16, 3).next();
      const losses: number[] = [];
      for (let step = 0; step < 8; step++) losses.push((await trainStep(model, opt, batch, { clip: 1 })).loss);
      expect(model.lnF.weight.dtype).toBe(weights);
      for (const p of model.trainableParameters()) expect(p.dtype).toBe(weights);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[7]!).toBeLessThan(losses[0]! - 0.05); // eight steps on one batch: a clear decrease, not rounding noise
      opt.dispose();
      model.dispose();
      batch.x.dispose();
      batch.y.dispose();
    });
  }
});
