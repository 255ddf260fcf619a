/**
 * The lab's report over seeds: a table of mean ± sd per plan entry, the paired differences the
 * report compares (src/lab/summary.ts) with their 95% intervals — never an ordering the intervals
 * do not support —, the exact saved-bytes accounting per method, and the alignment per step.
 */
import type { Checkpointing } from '../memory/model.ts';
import type { TrainingPrecision } from '../memory/precision.ts';
import { warmupSteps, type FineTuneOptions, type MethodResult } from './fine-tune.ts';
import { comparisons, comparisonSentence, spread, type EntryRuns, type Spread } from './summary.ts';

/** Which entries have not run (yet), and the one that failed, if one did. */
export interface RunStatus {
  pending: string[];
  failed?: { label: string; message: string };
}

/** --lr-sweep's record for one entry: each grid point's loss on the tune split (first seed), and the one chosen. */
export interface LrSweep {
  key: string;
  label: string;
  tried: { lr: number; loss: number }[];
  chosen: number;
}

/** The run's shared settings (as each method's FineTuneOptions has them) and what the report adds. */
export interface LabSettings extends Pick<FineTuneOptions, 'steps' | 'rank' | 'alpha' | 'batch' | 'seq' | 'veraRank'> {
  seeds: number[];
  /** The learning rates given (--full-lr, --lr); with --lr-sweep, the centres of the grids. */
  lr: Record<string, number>;
  lrSweep: LrSweep[];
  backend: string;
  command: string;
  checkpoint: Record<string, string>;
  /** Activation checkpointing of the blocks (the lab's --checkpoint: none, blocks → full, selective). */
  checkpointing: Checkpointing;
  /** The lab's --dtype (src/memory/precision.ts); fp32 when absent (reports written before it existed). */
  precision?: TrainingPrecision;
  baseValLoss: number;
  seconds: number;
}

const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
/** mean ± sd with `digits` decimals ('-' when nothing was measured; the mean alone for one seed). */
const pm = (s: Spread, digits: number, seeds: number) =>
  Number.isNaN(s.mean) ? '-' : seeds > 1 ? `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}` : s.mean.toFixed(digits);

/** The two alignment columns (src/lab/alignment.ts; README quotes them). */
export const COS_SGD = 'cos(−ΔW_SGD, G)';
export const COS_ADAMW = 'cos(−ΔW_AdamW, G)';

/** Rows of the results table (also printed to the terminal): losses and cosines as mean ± sd over seeds. */
export function tableRows(entries: readonly EntryRuns[]): string[][] {
  return [
    ['method', 'r (α)', 'trainable', 'lr', 'train loss', 'val loss', 'saved/step (measured)', 'saved/step (analytic)', 'peak allocated', 'ms/step', COS_SGD, COS_ADAMW],
    ...entries.map((e) => {
      const first = e.runs[0]!, k = e.runs.length;
      return [
        e.label, first.rank === 0 ? '-' : e.method === 'vera' ? `${first.rank}` : `${e.rank} (${e.alpha})`, first.trainable.toLocaleString('en-US'), `${Number(e.lr.toPrecision(3))}`,
        pm(spread(e, (r) => r.trainLoss), 4, k), pm(spread(e, (r) => r.valLoss), 4, k), kib(first.savedBytes), kib(first.analyticBytes),
        mib(Math.max(...e.runs.map((r) => r.peakBytes))), spread(e, (r) => r.msPerStep).mean.toFixed(0),
        pm(spread(e, (r) => r.cosSgd), 3, k), pm(spread(e, (r) => r.cosAdamw), 3, k),
      ];
    }),
  ];
}

/** The table with padded columns, for the terminal. */
export function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r, i) => {
    const line = r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
    return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}

function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  return [`| ${head!.join(' | ')} |`, `|${head!.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/**
 * A few sentences, each computed from the results: memory saved (the same on every seed), the
 * paired differences with their intervals, and how often the closed form was the better-aligned
 * direction. No ordering is stated beyond what an interval supports.
 */
export function findings(entries: readonly EntryRuns[], baseValLoss: number): string[] {
  const by = new Map(entries.map((e) => [e.key, e.runs[0]!]));
  const out: string[] = [];
  const fa = by.get('lorafa') ?? by.get('lorafa-nc'), lora = by.get('lora'), full = by.get('full');
  for (const other of [lora, full]) {
    if (!fa || !other) continue;
    const saved = other.savedBytes - fa.savedBytes;
    out.push(`LoRA-FA keeps ${kib(saved)} (${((100 * saved) / other.savedBytes).toFixed(1)}%) fewer saved activation bytes per step than ${other.label}, and trains ${fa.trainable.toLocaleString('en-US')} parameters against ${other.trainable.toLocaleString('en-US')}.`);
  }
  const seeds = Math.max(0, ...entries.map((e) => e.runs.length));
  if (entries.length) out.push(`Validation loss before fine-tuning ${baseValLoss.toFixed(4)}; after it, mean ± sd over ${seeds} seed(s) in the table. Paired differences (95% intervals; an interval containing 0 orders nothing):`);
  out.push(...comparisons(entries).map((c) => `  - ${comparisonSentence(c)}.`));
  const closed = entries.find((e) => e.key === 'lorafa'), plain = entries.find((e) => e.key === 'lorafa-nc');
  if (closed && plain) {
    const pairs = closed.runs.flatMap((r, s) => r.alignment.map((c, i) => [c, plain.runs[s]?.alignment[i]] as const)).filter(([, p]) => p !== undefined);
    const wins = (k: 'sgd' | 'adamw') => pairs.filter(([c, p]) => c[k] >= p![k]).length;
    if (pairs.length) {
      out.push(`${COS_SGD} of LoRA-FA's closed form was at least that of the uncorrected run at ${wins('sgd')} of ${pairs.length} (seed, step) pairs; ` +
        `${COS_ADAMW} at ${wins('adamw')} of ${pairs.length} (at step 0 both runs are at the same point, where Theorem 4.1 guarantees the first).`);
    }
  }
  return out;
}

/** The findings as a Markdown list (the paired differences nested under their sentence), for report.md and the terminal. */
export function findingLines(found: readonly string[]): string[] {
  return found.map((f) => (f.startsWith('  - ') ? f : `- ${f}`));
}

/** Where each method's adapter went with --save-adapter (nothing when it was not asked for). */
function adapterLines(entries: readonly EntryRuns[]): string[] {
  const saved = entries.filter((e) => e.runs[0]!.adapterSaved);
  return saved.length ? ["Adapters in PEFT's format (`--save-adapter`, first seed):", '', ...saved.map((e) => `- ${e.label}: ${e.runs[0]!.adapterSaved}`), ''] : [];
}

/** How each entry's learning rate was chosen: given, or by --lr-sweep on the tune split. */
function lrLines(entries: readonly EntryRuns[], s: LabSettings): string[] {
  if (!s.lrSweep.length) return [`Learning rates as given: ${Object.entries(s.lr).map(([k, v]) => `${k} ${v}`).join(', ')}.`];
  return [
    `Learning rates chosen by \`--lr-sweep\`: for each method, ⅓×, 1× and 3× the given rate (${Object.entries(s.lr).map(([k, v]) => `${k} ${v}`).join(', ')}) were each trained once on the first seed with the last tenth of the training text held out (the tune split), and the rate with the lowest tune-split loss was kept. The validation text reported here chose nothing.`,
    '',
    '| method | tried: tune-split loss | chosen |',
    '| --- | --- | ---: |',
    ...s.lrSweep.filter((w) => entries.some((e) => e.key === w.key)).map((w) => `| ${w.label} | ${w.tried.map((t) => `${t.lr.toPrecision(3)}: ${t.loss.toFixed(4)}`).join(', ')} | ${w.chosen.toPrecision(3)} |`),
  ];
}

/** report.md: settings, the results table, the comparisons, the memory accounting per method, and how to read the cosine. */
export function markdownReport(entries: readonly EntryRuns[], s: LabSettings, status: RunStatus = { pending: [] }): string {
  const incomplete = [
    ...(status.failed ? [`**${status.failed.label} failed:** ${status.failed.message}`] : []),
    ...(status.pending.length ? [`**Not run${status.failed ? '' : ' yet'}:** ${status.pending.join(', ')}.`] : []),
  ];
  const k = s.seeds.length;
  const lines: string[] = [
    '# LoRA-FA lab report',
    '',
    `Command: \`${s.command}\` — ${s.seconds.toFixed(0)} s on ${s.backend}.`,
    '',
    ...(incomplete.length ? [`This report is incomplete: it has the ${entries.length} method(s) that finished. ${incomplete.join(' ')}`, ''] : []),
    `The base checkpoint (checkpoints/base.safetensors: a character-level GPT ${s.checkpoint.config ?? ''}, pre-trained on Brown corpus press reportage with \`${s.checkpoint.command ?? 'npm run pretrain'}\`, seed ${s.checkpoint.seed ?? '?'}) is fine-tuned on Brown corpus romance fiction (data/finetune.txt) with each method on the same ${k} seed(s) (${s.seeds.join(', ')}): a seed fixes the batches (${s.batch} × ${s.seq} characters) and the adapters' initial values, the same for every method. ${s.steps} AdamW steps (warm-up ${warmupSteps(s.steps)} steps, cosine decay to a tenth, clip 1, weight decay 0.01), rank ${s.rank}, α ${s.alpha} (σ = ${(s.alpha / s.rank).toFixed(3)}; rsLoRA σ = α/√r = ${(s.alpha / Math.sqrt(s.rank)).toFixed(3)}; VeRA at its own rank ${s.veraRank}, without a scale; entries at another rank say so), adapters on q, k, v, o, up and down of every block. Precision: ${s.precision ?? 'fp32'}. Activation checkpointing: ${s.checkpointing === 'none' ? 'none' : s.checkpointing === 'full' ? 'every block keeps only its input and is recomputed in backward' : 'every block recomputes its attention scores (softmax output, its dropout) in backward'}.`,
    '',
    ...lrLines(entries, s),
    '',
    `Before fine-tuning, the base model's validation loss on the romance text is **${s.baseValLoss.toFixed(4)}**.`,
    '',
    markdownTable(tableRows(entries)),
    '',
    ...findingLines(findings(entries, s.baseValLoss)),
    '',
    '![loss curves](loss.svg)',
    '',
    '![alignment](alignment.svg)',
    '',
    '![memory](memory.svg)',
    '',
    '![memory per method](memory-per-method.svg)',
    '',
    '![memory timeline of the first step](memory-timeline.svg)',
    '',
    ...adapterLines(entries),
    '## Columns',
    '',
    `- mean ± sd: over the ${k} seed(s) (sample standard deviation). A paired difference a − b is taken seed by seed (same batches, same initial adapters), and its 95% interval is d̄ ± t₀.₉₇₅,K−1 · s_d/√K; "no detectable difference" when it contains 0. results.json has every seed's raw numbers.`,
    '- r (α): the adapters\' rank and alpha (σ = α/r); "(r = 2r)" entries come from `--match-params`: LoRA-FA and LoRA-FB at twice the rank train as many parameters as LoRA.',
    '- lr: the peak learning rate the entry trained with.',
    '- train / val loss: mean cross entropy (nats per character) after the last step, on 32 fixed windows of the training split and of the held-out last 10% of the text.',
    '- trainable: parameter elements that receive gradients (the frozen base and the frozen factor are not counted).',
    '- saved/step (measured): bytes autograd holds for backward after the forward pass of one training step, from `measureSaved` (deduplicated by storage, parameters free); the same on every seed.',
    "- saved/step (analytic): `methodMemory(...).activations` of src/memory — Korthikanti et al.'s per-layer tensors plus each method's linear inputs and XA products, times the number of layers, in float32. The exact difference is itemised below.",
    '- peak allocated: the backend allocator\'s peak over the run (`backend.memory().peakBytes`), the largest over seeds: weights, gradients, AdamW state, activations and temporaries.',
    '- ms/step: mean wall time of one training step (forward, backward, clip, AdamW), the first step excluded, mean over seeds.',
    `- ${COS_SGD}: for each adapted layer (Full-FT: each of q, k, v, o, up, down), the cosine between the Full-FT gradient G = Xᵀ·dY of its effective weight W + σAB, at the same parameters and batch, and −ΔW_SGD, the change of the effective weight per unit learning rate that one plain SGD step on the method's gradients would make, negated: σ·A·g̃_B for LoRA-FA — the quantity Theorem 4.1 optimises (the closed form makes it P_A·G, the best any direction within col(A) can do) —, σ·g̃_A·B for LoRA-FB, σ(g_A·B + A·g_B) for LoRA (first order), and G itself for Full-FT (so 1). It is the direction of the gradient handed to the optimizer, not the update applied. Mean over layers and over the measurement steps (0, ¼, ½ and ¾ of the run).`,
    `- ${COS_ADAMW}: the same cosine for the update the run actually applied at that step: −ΔW_AdamW = (W + σAB) before − (W + σAB) after the step (gradient clipping at 1, AdamW's normalised moments, decoupled weight decay), read on the host around opt.step(). Positive means the step moved against the Full-FT gradient.`,
    '',
    '## Saved activations: measured = analytic + corrections',
    '',
  ];
  for (const e of entries) {
    const r = e.runs[0]!;
    const exact = e.runs.every((x) => x.savedBytes === x.expectedBytes) ? 'exactly' : `NOT (off by ${r.savedBytes - r.expectedBytes} bytes)`;
    lines.push(`### ${e.label}`, '', `measured ${r.savedBytes} bytes = analytic ${r.analyticBytes} + corrections ${r.expectedBytes - r.analyticBytes}: holds ${exact}.`, '');
    for (const c of r.corrections) lines.push(`- ${c.bytes >= 0 ? '+' : '−'}${Math.abs(c.bytes)} bytes, ${c.what}: ${c.why}.`);
    lines.push('');
  }
  lines.push(...alignmentTable(entries));
  return lines.join('\n');
}

/** Per entry and measurement step, the two cosines as means over seeds. */
function alignmentTable(entries: readonly EntryRuns[]): string[] {
  const aligned = entries.filter((e) => e.runs[0]!.alignment.length);
  if (!aligned.length) return [];
  const steps = aligned[0]!.runs[0]!.alignment.map((c) => c.step);
  const at = (e: EntryRuns, i: number, k: 'sgd' | 'adamw') => spread(e, (r) => r.alignment[i]?.[k] ?? null).mean.toFixed(3);
  return [
    `## ${COS_SGD} / ${COS_ADAMW} at each measurement step (mean over seeds)`,
    '',
    `| method | ${steps.map((s) => `step ${s}`).join(' | ')} |`,
    `| --- |${steps.map(() => ' ---: ').join('|')}|`,
    ...aligned.map((e) => `| ${e.label} | ${steps.map((_, i) => `${at(e, i, 'sgd')} / ${at(e, i, 'adamw')}`).join(' | ')} |`),
    '',
  ];
}

/** One result per entry (the first seed's): what the memory charts draw, which seeds do not change. */
export function firstSeedResults(entries: readonly EntryRuns[]): MethodResult[] {
  return entries.map((e) => e.runs[0]!);
}
