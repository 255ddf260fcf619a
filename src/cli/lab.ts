/**
 * `lorafa lab` (npm start): fine-tunes the committed base GPT on the fine-tuning genre with
 * Full-FT, LoRA, LoRA-FA (closed form), LoRA-FA (no correction) and LoRA-FB (or the methods
 * asked for), each on the same K seeds — a seed fixes the batches and the adapters' initial
 * values — and writes runs/<timestamp>/report.md (mean ± sd, paired 95% intervals), its charts
 * and results.json with every seed's raw numbers.
 */
import { fileURLToPath } from 'node:url';
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { initCpu, type CpuTier } from '../backends/cpu/cpu-backend.ts';
import { getBackend, useBackend } from '../backends/registry.ts';
import { evalStarts, splitTrainVal } from '../data/text.ts';
import { loadText } from '../data/load-text.ts';
import type { Device } from '../dtype.ts';
import { alignmentChart, lossChart, memoryChart, memoryPerMethodChart, renderSvg } from '../lab/charts.ts';
import { BASE_CHECKPOINT, loadCheckpoint } from '../lab/checkpoint.ts';
import { DEFAULT_LAB_METHODS, fineTune, LAB_CHECKPOINTING, LAB_METHODS, type LabMethod, type MethodResult } from '../lab/fine-tune.ts';
import { memoryTimelineChart } from '../lab/memory-timeline.ts';
import { progressBar } from '../lab/progress.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { lrGrid, planEntries, seedsFrom, type PlanEntry } from '../lab/plan.ts';
import { findingLines, findings, firstSeedResults, markdownReport, tableRows, textTable, type LabSettings, type LrSweep, type RunStatus } from '../lab/report.ts';
import { comparisons, type EntryRuns } from '../lab/summary.ts';
import { maxAdapterRank } from '../lora/adapters.ts';
import { savePeftAdapter } from '../io/peft-files.ts';
import type { GPT } from '../nn/transformer.ts';
import { evaluate } from '../lab/train.ts';
import { runCommand, UsageError, type Values } from './options.ts';
import { PRECISION_DTYPES, TRAINING_PRECISIONS, type TrainingPrecision } from '../memory/precision.ts';

const METHOD_NAMES = Object.keys(LAB_METHODS) as LabMethod[];

export const LAB = {
  name: 'lab',
  summary: 'Fine-tunes the committed base GPT on a new genre with each method on the same seeds (batches, inits and steps) and writes a report with paired intervals.',
  options: {
    steps: { kind: 'int', default: 100, min: 1, help: 'AdamW steps per method' },
    rank: { kind: 'int', default: 8, min: 1, help: 'adapter rank r (at most the width of every adapted linear)' },
    alpha: { kind: 'number', default: 16, min: 0, exclusiveMin: true, help: 'LoRA alpha: the adapters are scaled by σ = α/r' },
    methods: { kind: 'list', default: DEFAULT_LAB_METHODS, choices: [...METHOD_NAMES, 'all'], meta: 'm1,m2,...', help: "which methods to run ('all': every one, about 3½ minutes per seed)" },
    'vera-rank': { kind: 'int', default: 64, min: 1, help: "VeRA's rank (its A and B are shared and frozen; PEFT's default is 256)" },
    'save-adapter': { kind: 'string', meta: 'DIR', help: "save each trained adapter in PEFT's format under DIR/<method>" },
    backend: { kind: 'string', default: 'cpu', choices: ['cpu', 'webgpu'], help: 'device to train on' },
    'cpu-tier': { kind: 'string', default: 'wasm', choices: ['wasm', 'js'], help: "CPU kernels: 'wasm' (WebAssembly SIMD; JavaScript where the engine lacks SIMD) or 'js' (the readable reference kernels, one thread)" },
    threads: { kind: 'int', min: 1, help: "threads of the 'wasm' CPU tier (default: every core; one without shared memory)" },
    seed: { kind: 'seed', default: 42, help: 'the first seed (of the batches and adapter inits); the others follow it' },
    seeds: { kind: 'int', default: 3, min: 1, max: 100, meta: 'K', help: 'seeds per method: every method runs on the same K seeds; the report gives mean ± sd and paired 95% intervals' },
    'match-params': { kind: 'flag', help: "also run LoRA-FA and LoRA-FB at twice the rank (and α): as many trained parameters as LoRA's" },
    'lr-sweep': { kind: 'flag', help: 'choose each method\'s learning rate from ⅓×, 1×, 3× the given one, by the loss on a held-out tenth of the training text' },
    batch: { kind: 'int', default: 4, min: 1, help: 'sequences per batch' },
    seq: { kind: 'int', default: 64, min: 1, help: "characters per sequence (at most the model's context)" },
    'log-every': { kind: 'int', default: 10, min: 1, meta: 'K', help: 'read the training loss back every K steps, K at once (the device runs ahead in between; 1: every step)' },
    lr: { kind: 'number', default: 0.01, min: 0, exclusiveMin: true, help: 'peak learning rate of the adapters' },
    'full-lr': { kind: 'number', default: 0.001, min: 0, exclusiveMin: true, help: 'peak learning rate of Full-FT' },
    base: { kind: 'string', default: fileURLToPath(BASE_CHECKPOINT), meta: 'FILE', help: 'the base model' },
    checkpoint: {
      kind: 'string', default: 'none', choices: ['none', 'blocks', 'selective'],
      help: "activation checkpointing: blocks keeps only each block's input and recomputes the block in backward; selective recomputes only the attention scores",
    },
    dtype: {
      kind: 'string', default: 'fp32', choices: TRAINING_PRECISIONS,
      help: 'precision: fp32; bf16 or fp16 (weights, activations, gradients and AdamW moments in 16 bits); autocast-bf16 (float32 weights, matmuls in bfloat16, softmax/LayerNorm/loss in float32)',
    },
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
  const checkpointing = LAB_CHECKPOINTING[v.checkpoint]!;
  const precision = v.dtype as TrainingPrecision;
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
  const base = await loadCheckpoint(v.base, device);
  const { context } = base.model.config;
  const maxRank = maxAdapterRank(base.model);
  if (seq > context) throw new UsageError(`--seq ${seq} exceeds the model's context of ${context}; expected an integer ≤ ${context}`);
  if (methods.includes('vera') && veraRank > maxRank) throw new UsageError(`--vera-rank ${veraRank} exceeds min(d, o) = ${maxRank} of the adapted linears of this model; expected an integer ≤ ${maxRank}`);
  if (methods.some((m) => 'adapter' in LAB_METHODS[m] && m !== 'vera')) {
    if (rank > maxRank) throw new UsageError(`--rank ${rank} exceeds min(d, o) = ${maxRank} of the adapted linears of this model; expected an integer ≤ ${maxRank}`);
    const doubled = v['match-params'] && methods.some((m) => m === 'lorafa' || m === 'lorafb');
    if (doubled && 2 * rank > maxRank) throw new UsageError(`--match-params runs LoRA-FA and LoRA-FB at rank 2 × ${rank} = ${2 * rank}, above min(d, o) = ${maxRank} of the adapted linears of this model; expected --rank ≤ ${Math.floor(maxRank / 2)}`);
    if (alpha / rank === 0) throw new UsageError(`--alpha ${alpha} gives σ = α/r = 0 at rank ${rank} (it underflows); expected a larger alpha`);
  }
  const { val } = splitTrainVal(base.tokenizer.encode(text));
  const baseValLoss = await evaluate(base.model, val, evalStarts(val, seq, 32), seq, batch);
  console.log(`lab: base GPT ${base.metadata.config} on ${getBackend(device).description}; validation loss on the romance text before fine-tuning ${baseValLoss.toFixed(4)}`);
  base.model.dispose();

  const alignAt = [0, 1, 2, 3].map((k) => Math.floor((k * steps) / 4));
  const seeds = seedsFrom(seed, v.seeds);
  const plan = planEntries(methods, rank, alpha, v['match-params']);
  const baseLr = (m: LabMethod) => (m === 'full' ? fullLr : lr);
  const run = (e: PlanEntry, runSeed: number, runLr: number, split: 'validation' | 'tune', saveAdapter?: string) => {
    const bar = progressBar(`${e.label}${split === 'tune' ? ` lr ${runLr.toPrecision(2)}` : ''} · seed ${runSeed}`, steps);
    return fineTune(() => loadCheckpoint(v.base, device, PRECISION_DTYPES[precision].weights), text, {
      method: e.method, key: e.key, label: e.label, rank: e.rank, alpha: e.alpha, split, steps, seed: runSeed, batch, seq, device,
      alignAt: split === 'tune' ? [] : alignAt, veraRank, lr: runLr, checkpointing, precision,
      ...(saveAdapter ? { saveAdapter: { folder: saveAdapter, write: (folder: string, model: GPT) => savePeftAdapter(folder, model, { baseModel: 'lorafa/tiny-gpt' }) } } : {}),
      evalEvery: Math.max(1, Math.floor(steps / 5)), logEvery: v['log-every'],
      onStep: (step, loss) => bar.update(step, loss),
    }).finally(() => bar.stop());
  };

  // --lr-sweep: each entry's learning rate is the grid point with the lowest loss on the tune split (first seed)
  const sweep: LrSweep[] = [];
  if (v['lr-sweep']) {
    for (const e of plan) {
      const tried: { lr: number; loss: number }[] = [];
      for (const candidate of lrGrid(baseLr(e.method))) tried.push({ lr: candidate, loss: (await run(e, seeds[0]!, candidate, 'tune')).valLoss });
      const best = tried.reduce((a, b) => (b.loss < a.loss ? b : a));
      sweep.push({ key: e.key, label: e.label, tried, chosen: best.lr });
    }
  }
  const lrOf = (e: PlanEntry) => sweep.find((s) => s.key === e.key)?.chosen ?? baseLr(e.method);

  const settings = (): LabSettings => ({
    steps, rank, alpha, seeds, batch, seq, veraRank, lr: { 'Full-FT': fullLr, adapters: lr }, lrSweep: sweep, backend: getBackend(device).description, checkpointing, precision,
    command: `lorafa lab ${args.join(' ')}`.trim(), checkpoint: base.metadata, baseValLoss, seconds: (performance.now() - t0) / 1000,
  });
  const entries: EntryRuns[] = [];
  // the report is rewritten after each entry, so a later failure leaves the finished ones on disk
  for (const [i, e] of plan.entries()) {
    const runs: MethodResult[] = [];
    try {
      for (const runSeed of seeds) {
        const adapter = runSeed === seeds[0] ? adapterDir : undefined; // fineTune saves under <dir>/<key>
        const r = await run(e, runSeed, lrOf(e), 'validation', adapter);
        console.log(`${r.label}, seed ${runSeed}: val loss ${r.valLoss.toFixed(4)}, ${r.msPerStep.toFixed(0)} ms/step, saved ${r.savedBytes} bytes/step`);
        runs.push(r);
      }
    } catch (err) {
      const status = { failed: { label: e.label, message: (err as Error).message }, pending: plan.slice(i + 1).map((p) => p.label) };
      await writeReport(outDir, entries, settings(), status);
      console.error(`lab: ${status.failed.label} failed; the report in ${outDir} has the ${entries.length} finished method(s)`);
      throw err;
    }
    entries.push({ ...e, lr: lrOf(e), runs });
    await writeReport(outDir, entries, settings(), { pending: plan.slice(i + 1).map((p) => p.label) });
  }
  const { seconds } = settings();
  console.log(`\n${textTable(tableRows(entries))}\n\n${findingLines(findings(entries, baseValLoss)).join('\n')}\n\nwrote ${join(outDir, 'report.md')}, loss.svg, alignment.svg, memory.svg, memory-per-method.svg, memory-timeline.svg, results.json (${seconds.toFixed(0)} s)`);
  return 0;
}

/**
 * report.md, the five charts and results.json (every seed's raw numbers in `results`, each run's
 * memory timeline reduced to its peak, the paired comparisons in `comparisons`), each written atomically.
 */
async function writeReport(outDir: string, entries: EntryRuns[], settings: LabSettings, status: RunStatus): Promise<void> {
  const firstSeed = firstSeedResults(entries);
  await writeFileAtomic(join(outDir, 'report.md'), markdownReport(entries, settings, status));
  await writeFileAtomic(join(outDir, 'loss.svg'), await renderSvg(lossChart(entries, settings.baseValLoss)));
  await writeFileAtomic(join(outDir, 'alignment.svg'), await renderSvg(alignmentChart(entries)));
  await writeFileAtomic(join(outDir, 'memory.svg'), await renderSvg(memoryChart(firstSeed)));
  await writeFileAtomic(join(outDir, 'memory-per-method.svg'), await renderSvg(memoryPerMethodChart(firstSeed)));
  const timelines = firstSeed.map((r) => ({ label: r.label, profile: r.timeline }));
  await writeFileAtomic(join(outDir, 'memory-timeline.svg'), await renderSvg(memoryTimelineChart(timelines, `Memory over the first training step (${settings.precision ?? 'fp32'}, checkpointing ${settings.checkpointing})`)));
  const results = entries.flatMap((e) => e.runs).map(({ timeline, ...r }) => ({ ...r, timelinePeak: timeline.peak }));
  await writeFileAtomic(join(outDir, 'results.json'), JSON.stringify({ settings, status, results, comparisons: comparisons(entries) }, null, 2));
}
