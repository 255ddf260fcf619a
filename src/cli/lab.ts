/**
 * `lorafa lab` (npm start): fine-tunes the committed base GPT on the fine-tuning genre with
 * Full-FT, LoRA, LoRA-FA (closed form), LoRA-FA (no correction) and LoRA-FB — same seed, same
 * batches, same step budget — and writes runs/<timestamp>/report.md with loss.svg and memory.svg.
 */
import { fileURLToPath } from 'node:url';
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { initCpu, type CpuTier } from '../backends/cpu/cpu-backend.ts';
import { getBackend, useBackend } from '../backends/registry.ts';
import { evalStarts, loadText, splitTrainVal } from '../data/text.ts';
import type { Device } from '../dtype.ts';
import { lossChart, memoryChart, memoryPerMethodChart, renderSvg } from '../lab/charts.ts';
import { BASE_CHECKPOINT, loadCheckpoint } from '../lab/checkpoint.ts';
import { DEFAULT_LAB_METHODS, fineTune, LAB_METHODS, type LabMethod, type MethodResult } from '../lab/fine-tune.ts';
import { progressBar } from '../lab/progress.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { findings, markdownReport, tableRows, textTable, type LabSettings, type RunStatus } from '../lab/report.ts';
import { maxAdapterRank } from '../lora/adapters.ts';
import { evaluate } from '../lab/train.ts';
import { runCommand, UsageError, type Values } from './options.ts';

const METHOD_NAMES = Object.keys(LAB_METHODS) as LabMethod[];

export const LAB = {
  name: 'lab',
  summary: 'Fine-tunes the committed base GPT on a new genre with each method (same seed, batches and steps) and writes a report.',
  options: {
    steps: { kind: 'int', default: 100, min: 1, help: 'AdamW steps per method' },
    rank: { kind: 'int', default: 8, min: 1, help: 'adapter rank r (at most the width of every adapted linear)' },
    alpha: { kind: 'number', default: 16, min: 0, exclusiveMin: true, help: 'LoRA alpha: the adapters are scaled by σ = α/r' },
    methods: { kind: 'list', default: DEFAULT_LAB_METHODS, choices: [...METHOD_NAMES, 'all'], meta: 'm1,m2,...', help: "which methods to run ('all': every one, about 3½ minutes)" },
    'vera-rank': { kind: 'int', default: 64, min: 1, help: "VeRA's rank (its A and B are shared and frozen; PEFT's default is 256)" },
    'save-adapter': { kind: 'string', meta: 'DIR', help: "save each trained adapter in PEFT's format under DIR/<method>" },
    backend: { kind: 'string', default: 'cpu', choices: ['cpu', 'webgpu'], help: 'device to train on' },
    'cpu-tier': { kind: 'string', default: 'wasm', choices: ['wasm', 'js'], help: "CPU kernels: 'wasm' (WebAssembly SIMD; JavaScript where the engine lacks SIMD) or 'js' (the readable reference kernels, one thread)" },
    threads: { kind: 'int', min: 1, help: "threads of the 'wasm' CPU tier (default: every core; one without shared memory)" },
    seed: { kind: 'seed', default: 42, help: 'seed of the batches, adapter inits and dropout' },
    batch: { kind: 'int', default: 4, min: 1, help: 'sequences per batch' },
    seq: { kind: 'int', default: 64, min: 1, help: "characters per sequence (at most the model's context)" },
    lr: { kind: 'number', default: 0.01, min: 0, exclusiveMin: true, help: 'peak learning rate of the adapters' },
    'full-lr': { kind: 'number', default: 0.001, min: 0, exclusiveMin: true, help: 'peak learning rate of Full-FT' },
    checkpoint: { kind: 'string', default: fileURLToPath(BASE_CHECKPOINT), meta: 'FILE', help: 'the base model' },
    out: { kind: 'string', meta: 'DIR', help: 'where to write the report (default runs/<timestamp>)' },
  },
} as const;

export function run(args: string[]): Promise<number> {
  return runCommand(LAB, args, (v) => lab(v, args));
}

/**
 * A folder the run writes to (default runs/<timestamp>), created now: a path that exists as a
 * file, or cannot be made, is refused before any training. `option` names it in the error.
 */
async function outputFolder(given: string | undefined, option: string): Promise<string> {
  const dir = given ?? join('runs', new Date().toISOString().replace(/[:.]/g, '-'));
  const existing = await stat(dir).catch(() => null);
  if (existing && !existing.isDirectory()) throw new UsageError(`--${option} ${dir} exists and is not a folder; expected a folder (new or existing)`);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(`--${option} ${dir} cannot be written: ${(e as Error).message}`);
  }
  return dir;
}

async function lab(v: Values<typeof LAB.options>, args: string[]): Promise<number> {
  const { steps, rank, alpha, seed, batch, seq, lr, 'full-lr': fullLr } = v;
  const methods = v.methods.includes('all') ? METHOD_NAMES : [...new Set(v.methods as LabMethod[])];
  const veraRank = v['vera-rank'];
  const device = v.backend as Device;
  const t0 = performance.now();

  // every option is checked before anything trains: a bad one costs seconds, not a finished run
  const outDir = await outputFolder(v.out, 'out');
  const adapterDir = v['save-adapter'] === undefined ? undefined : await outputFolder(v['save-adapter'], 'save-adapter');
  const cpuOnly = methods.filter((m) => 'cpuOnly' in LAB_METHODS[m]);
  if (device === 'webgpu' && cpuOnly.length) {
    throw new UsageError(`--methods ${cpuOnly.join(',')} need the CPU (their SVD init reads W on the host); expected --backend cpu, or methods without them`);
  }
  if (device === 'cpu') await initCpu({ tier: v['cpu-tier'] as CpuTier, threads: v.threads });
  if (device === 'webgpu') {
    const { initWebGpu } = await import('../backends/webgpu/index.ts');
    await initWebGpu();
    useBackend('webgpu');
  }
  const text = loadText('finetune');
  const base = await loadCheckpoint(v.checkpoint, device);
  const { context } = base.model.config;
  const maxRank = maxAdapterRank(base.model);
  if (seq > context) throw new UsageError(`--seq ${seq} exceeds the model's context of ${context}; expected an integer ≤ ${context}`);
  if (methods.includes('vera') && veraRank > maxRank) throw new UsageError(`--vera-rank ${veraRank} exceeds min(d, o) = ${maxRank} of the adapted linears of this model; expected an integer ≤ ${maxRank}`);
  if (methods.some((m) => 'adapter' in LAB_METHODS[m] && m !== 'vera')) {
    if (rank > maxRank) throw new UsageError(`--rank ${rank} exceeds min(d, o) = ${maxRank} of the adapted linears of this model; expected an integer ≤ ${maxRank}`);
    if (alpha / rank === 0) throw new UsageError(`--alpha ${alpha} gives σ = α/r = 0 at rank ${rank} (it underflows); expected a larger alpha`);
  }
  const { val } = splitTrainVal(base.tokenizer.encode(text));
  const baseValLoss = await evaluate(base.model, val, evalStarts(val, seq, 32), seq, batch);
  console.log(`lab: base GPT ${base.metadata.config} on ${getBackend(device).description}; validation loss on the romance text before fine-tuning ${baseValLoss.toFixed(4)}`);
  base.model.dispose();

  const alignAt = [0, 1, 2, 3].map((k) => Math.floor((k * steps) / 4));
  const settings = (): LabSettings => ({
    steps, rank, alpha, seed, batch, seq, veraRank, lr: { 'Full-FT': fullLr, adapters: lr }, backend: getBackend(device).description,
    command: `lorafa lab ${args.join(' ')}`.trim(), checkpoint: base.metadata, baseValLoss, seconds: (performance.now() - t0) / 1000,
  });
  const results: MethodResult[] = [];
  // the report is rewritten after each method, so a later failure leaves the finished ones on disk
  for (const [i, method] of methods.entries()) {
    const bar = progressBar(LAB_METHODS[method].label, steps);
    let r: MethodResult;
    try {
      r = await fineTune(() => loadCheckpoint(v.checkpoint, device), text, {
        method, steps, rank, alpha, seed, batch, seq, device, alignAt, veraRank, saveAdapter: adapterDir,
        lr: method === 'full' ? fullLr : lr,
        evalEvery: Math.max(1, Math.floor(steps / 5)),
        onStep: (step, loss) => bar.update(step, loss),
      });
    } catch (e) {
      bar.stop();
      const status = { failed: { label: LAB_METHODS[method].label, message: (e as Error).message }, pending: methods.slice(i + 1).map((m) => LAB_METHODS[m].label) };
      await writeReport(outDir, results, settings(), status);
      console.error(`lab: ${status.failed.label} failed; the report in ${outDir} has the ${results.length} finished method(s)`);
      throw e;
    }
    bar.stop();
    console.log(`${r.label}: val loss ${r.valLoss.toFixed(4)}, ${r.msPerStep.toFixed(0)} ms/step, saved ${r.savedBytes} bytes/step`);
    results.push(r);
    await writeReport(outDir, results, settings(), { pending: methods.slice(i + 1).map((m) => LAB_METHODS[m].label) });
  }
  const { seconds } = settings();
  console.log(`\n${textTable(tableRows(results))}\n\n${findings(results, baseValLoss).map((f) => `- ${f}`).join('\n')}\n\nwrote ${join(outDir, 'report.md')}, loss.svg, memory.svg, memory-per-method.svg, results.json (${seconds.toFixed(0)} s)`);
  return 0;
}

/** report.md, the three charts and results.json, each written atomically. */
async function writeReport(outDir: string, results: MethodResult[], settings: LabSettings, status: RunStatus): Promise<void> {
  await writeFileAtomic(join(outDir, 'report.md'), markdownReport(results, settings, status));
  await writeFileAtomic(join(outDir, 'loss.svg'), await renderSvg(lossChart(results, settings.baseValLoss)));
  await writeFileAtomic(join(outDir, 'memory.svg'), await renderSvg(memoryChart(results)));
  await writeFileAtomic(join(outDir, 'memory-per-method.svg'), await renderSvg(memoryPerMethodChart(results)));
  await writeFileAtomic(join(outDir, 'results.json'), JSON.stringify({ settings, status, results }, null, 2));
}
