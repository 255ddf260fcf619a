/**
 * `lorafa lab` (npm start): fine-tunes the committed base GPT on the fine-tuning genre with
 * Full-FT, LoRA, LoRA-FA (closed form), LoRA-FA (no correction) and LoRA-FB — same seed, same
 * batches, same step budget — and writes runs/<timestamp>/report.md with loss.svg and memory.svg.
 */
import { fileURLToPath } from 'node:url';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getBackend, useBackend } from '../backends/registry.ts';
import { evalStarts, loadText, splitTrainVal } from '../data/text.ts';
import type { Device } from '../dtype.ts';
import { lossChart, memoryChart, renderSvg } from '../lab/charts.ts';
import { BASE_CHECKPOINT, loadCheckpoint } from '../lab/checkpoint.ts';
import { fineTune, LAB_METHODS, type LabMethod, type MethodResult } from '../lab/fine-tune.ts';
import { progressBar } from '../lab/progress.ts';
import { UsageError, numberOption, withUsage } from '../lab/cli-args.ts';
import { findings, markdownReport, tableRows, textTable } from '../lab/report.ts';
import { evaluate } from '../lab/train.ts';

const OPTIONS = {
  steps: { type: 'string', default: '100' },
  rank: { type: 'string', default: '8' },
  alpha: { type: 'string', default: '16' },
  methods: { type: 'string', default: Object.keys(LAB_METHODS).join(',') },
  backend: { type: 'string', default: 'cpu' },
  seed: { type: 'string', default: '42' },
  batch: { type: 'string', default: '4' },
  seq: { type: 'string', default: '64' },
  lr: { type: 'string', default: '0.01' },
  'full-lr': { type: 'string', default: '0.001' },
  checkpoint: { type: 'string', default: fileURLToPath(BASE_CHECKPOINT) },
  out: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

const USAGE = `usage: lorafa lab [--steps N] [--rank R] [--alpha A] [--methods ${Object.keys(LAB_METHODS).join(',')}]
                 [--backend cpu|webgpu] [--seed S] [--batch B] [--seq S] [--lr LR (adapters)] [--full-lr LR]
                 [--checkpoint FILE] [--out DIR (default runs/<timestamp>)]`;

export function run(args: string[]): Promise<number> {
  return withUsage('lab', USAGE, () => lab(args));
}

async function lab(args: string[]): Promise<number> {
  const { values: v } = parseArgs({ args, options: OPTIONS, strict: true });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const int = (k: 'steps' | 'rank' | 'batch' | 'seq') => numberOption(k, v[k], { integer: true });
  const [steps, rank, batch, seq] = [int('steps'), int('rank'), int('batch'), int('seq')];
  const seed = numberOption('seed', v.seed, { integer: true, allowZero: true });
  const [alpha, lr, fullLr] = [numberOption('alpha', v.alpha), numberOption('lr', v.lr), numberOption('full-lr', v['full-lr'])];
  const methods = v.methods!.split(',').map((m) => m.trim()) as LabMethod[];
  const unknown = methods.filter((m) => !(m in LAB_METHODS));
  if (unknown.length) throw new UsageError(`unknown method(s) ${unknown.join(', ')}; expected some of ${Object.keys(LAB_METHODS).join(', ')}`);
  if (v.backend !== 'cpu' && v.backend !== 'webgpu') throw new UsageError(`--backend ${v.backend}; expected cpu or webgpu`);
  const device = v.backend as Device;
  if (device === 'webgpu') {
    const { initWebGpu } = await import('../backends/webgpu/init.ts');
    await initWebGpu();
    useBackend('webgpu');
  }

  const t0 = performance.now();
  const text = loadText('finetune');
  const base = await loadCheckpoint(v.checkpoint!, device);
  if (seq > base.model.config.context) throw new UsageError(`--seq ${seq} exceeds the model's context of ${base.model.config.context}`);
  const { val } = splitTrainVal(base.tokenizer.encode(text));
  const baseValLoss = await evaluate(base.model, val, evalStarts(val, seq, 32), seq, batch);
  console.log(`lab: base GPT ${base.metadata.config} on ${getBackend(device).description}; validation loss on the romance text before fine-tuning ${baseValLoss.toFixed(4)}`);
  base.model.dispose();
  const alignAt = [0, 1, 2, 3].map((k) => Math.floor((k * steps) / 4));
  const results: MethodResult[] = [];
  for (const method of methods) {
    const bar = progressBar(LAB_METHODS[method].label, steps);
    const r = await fineTune(() => loadCheckpoint(v.checkpoint!, device), text, {
      method, steps, rank, alpha, seed, batch, seq, device, alignAt,
      lr: method === 'full' ? fullLr : lr,
      evalEvery: Math.max(1, Math.floor(steps / 5)),
      onStep: (step, loss) => bar.update(step, loss),
    });
    bar.stop();
    console.log(`${r.label}: val loss ${r.valLoss.toFixed(4)}, ${r.msPerStep.toFixed(0)} ms/step, saved ${r.savedBytes} bytes/step`);
    results.push(r);
  }

  const seconds = (performance.now() - t0) / 1000;
  const outDir = v.out ?? join('runs', new Date().toISOString().replace(/[:.]/g, '-'));
  await mkdir(outDir, { recursive: true });
  const settings = {
    steps, rank, alpha, seed, batch, seq, lr: { 'Full-FT': fullLr, adapters: lr }, backend: getBackend(device).description,
    command: `lorafa lab ${args.join(' ')}`.trim(), checkpoint: base.metadata, baseValLoss, seconds,
  };
  await writeFile(join(outDir, 'report.md'), markdownReport(results, settings));
  await writeFile(join(outDir, 'loss.svg'), await renderSvg(lossChart(results, baseValLoss)));
  await writeFile(join(outDir, 'memory.svg'), await renderSvg(memoryChart(results)));
  await writeFile(join(outDir, 'results.json'), JSON.stringify({ settings, results }, null, 2));
  console.log(`\n${textTable(tableRows(results))}\n\n${findings(results, baseValLoss).map((f) => `- ${f}`).join('\n')}\n\nwrote ${join(outDir, 'report.md')}, loss.svg, memory.svg, results.json (${seconds.toFixed(0)} s)`);
  return 0;
}
