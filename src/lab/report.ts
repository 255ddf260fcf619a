import { warmupSteps, type FineTuneOptions, type MethodResult } from './fine-tune.ts';

/** Which methods have not run (yet), and the one that failed, if one did. */
export interface RunStatus {
  pending: string[];
  failed?: { label: string; message: string };
}

/** The run's shared settings (as each method's FineTuneOptions has them) and what the report adds. */
export interface LabSettings extends Pick<FineTuneOptions, 'steps' | 'rank' | 'alpha' | 'seed' | 'batch' | 'seq' | 'veraRank'> {
  lr: Record<string, number>;
  backend: string;
  command: string;
  checkpoint: Record<string, string>;
  baseValLoss: number;
  seconds: number;
}

const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
const fixed3 = (x: number | null) => (x === null ? '-' : x.toFixed(3));

/** The two alignment columns (src/lab/alignment.ts; README quotes them). */
export const COS_SGD = 'cos(−ΔW_SGD, G)';
export const COS_ADAMW = 'cos(−ΔW_AdamW, G)';

/** Rows of the results table (also printed to the terminal). */
export function tableRows(results: MethodResult[]): string[][] {
  return [
    ['method', 'train loss', 'val loss', 'trainable', 'saved/step (measured)', 'saved/step (analytic)', 'peak allocated', 'ms/step', COS_SGD, COS_ADAMW],
    ...results.map((r) => [
      r.label, r.trainLoss.toFixed(4), r.valLoss.toFixed(4), r.trainable.toLocaleString('en-US'), kib(r.savedBytes), kib(r.analyticBytes),
      mib(r.peakBytes), r.msPerStep.toFixed(0), fixed3(r.cosSgd), fixed3(r.cosAdamw),
    ]),
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

/** A few sentences, each computed from the results: memory saved, the loss ranking, and the two alignment measures. */
export function findings(results: MethodResult[], baseValLoss: number): string[] {
  const by = new Map(results.map((r) => [r.method, r]));
  const out: string[] = [];
  const fa = by.get('lorafa') ?? by.get('lorafa-nc'), lora = by.get('lora'), full = by.get('full');
  for (const other of [lora, full]) {
    if (!fa || !other) continue;
    const saved = other.savedBytes - fa.savedBytes;
    out.push(`LoRA-FA keeps ${kib(saved)} (${((100 * saved) / other.savedBytes).toFixed(1)}%) fewer saved activation bytes per step than ${other.label}, and trains ${fa.trainable.toLocaleString('en-US')} parameters against ${other.trainable.toLocaleString('en-US')}.`);
  }
  const ranked = [...results].sort((a, b) => a.valLoss - b.valLoss);
  if (ranked.length) out.push(`Validation loss from ${baseValLoss.toFixed(4)} before fine-tuning: ${ranked.map((r) => `${r.label} ${r.valLoss.toFixed(4)}`).join(' < ')}.`);
  const closed = by.get('lorafa'), plain = by.get('lorafa-nc');
  if (closed && plain && closed.alignment.length && closed.alignment.length === plain.alignment.length) {
    const n = closed.alignment.length;
    const wins = (k: 'sgd' | 'adamw') => closed.alignment.filter((c, i) => c[k] >= plain.alignment[i]![k]).length;
    out.push(`Gradient direction, ${COS_SGD}: LoRA-FA's closed form ${fixed3(closed.cosSgd)} against ${fixed3(plain.cosSgd)} without the correction (mean over layers and measurement steps), ` +
      `higher at ${wins('sgd')} of ${n} steps (at step 0 both runs are at the same point, where Theorem 4.1 guarantees it).`);
    out.push(`Applied AdamW update, ${COS_ADAMW}: ${fixed3(closed.cosAdamw)} with the closed form against ${fixed3(plain.cosAdamw)} without, higher at ${wins('adamw')} of ${n} steps` +
      `${full?.cosAdamw != null ? `; Full-FT's own AdamW step reaches ${fixed3(full.cosAdamw)}` : ''}.`);
  }
  return out;
}

/** Where each method's adapter went with --save-adapter (nothing when it was not asked for). */
function adapterLines(results: MethodResult[]): string[] {
  const saved = results.filter((r) => r.adapterSaved);
  return saved.length ? ["Adapters in PEFT's format (`--save-adapter`):", '', ...saved.map((r) => `- ${r.label}: ${r.adapterSaved}`), ''] : [];
}

/** report.md: settings, the results table, the memory accounting per method, and how to read the cosine. */
export function markdownReport(results: MethodResult[], s: LabSettings, status: RunStatus = { pending: [] }): string {
  const incomplete = [
    ...(status.failed ? [`**${status.failed.label} failed:** ${status.failed.message}`] : []),
    ...(status.pending.length ? [`**Not run${status.failed ? '' : ' yet'}:** ${status.pending.join(', ')}.`] : []),
  ];
  const lines: string[] = [
    '# LoRA-FA lab report',
    '',
    `Command: \`${s.command}\` — ${s.seconds.toFixed(0)} s on ${s.backend}.`,
    '',
    ...(incomplete.length ? [`This report is incomplete: it has the ${results.length} method(s) that finished. ${incomplete.join(' ')}`, ''] : []),
    `The base checkpoint (checkpoints/base.safetensors: a character-level GPT ${s.checkpoint.config ?? ''}, pre-trained on Brown corpus press reportage with \`${s.checkpoint.command ?? 'npm run pretrain'}\`, seed ${s.checkpoint.seed ?? '?'}) is fine-tuned on Brown corpus romance fiction (data/finetune.txt) with each method: the same seed, the same batches (${s.batch} × ${s.seq} characters), ${s.steps} AdamW steps (warm-up ${warmupSteps(s.steps)} steps, cosine decay to a tenth, clip 1, weight decay 0.01), rank ${s.rank}, α ${s.alpha} (σ = ${(s.alpha / s.rank).toFixed(3)}; rsLoRA σ = α/√r = ${(s.alpha / Math.sqrt(s.rank)).toFixed(3)}; VeRA at its own rank ${s.veraRank}, without a scale), adapters on q, k, v, o, up and down of every block. Learning rates: ${Object.entries(s.lr).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    `Before fine-tuning, the base model's validation loss on the romance text is **${s.baseValLoss.toFixed(4)}**.`,
    '',
    markdownTable(tableRows(results)),
    '',
    ...findings(results, s.baseValLoss).map((f) => `- ${f}`),
    '',
    '![loss curves](loss.svg)',
    '',
    '![memory](memory.svg)',
    '',
    '![memory per method](memory-per-method.svg)',
    '',
    ...adapterLines(results),
    '## Columns',
    '',
    '- train / val loss: mean cross entropy (nats per character) after the last step, on 32 fixed windows of the training split and of the held-out last 10% of the text.',
    '- trainable: parameter elements that receive gradients (the frozen base and the frozen factor are not counted).',
    '- saved/step (measured): bytes autograd holds for backward after the forward pass of one training step, from `measureSaved` (deduplicated by storage, parameters free).',
    "- saved/step (analytic): `methodMemory(...).activations` of src/memory — Korthikanti et al.'s per-layer tensors plus each method's linear inputs and XA products, times the number of layers, in float32. The exact difference is itemised below.",
    '- peak allocated: the backend allocator\'s peak over the run (`backend.memory().peakBytes`): weights, gradients, AdamW state, activations and temporaries.',
    '- ms/step: mean wall time of one training step (forward, backward, clip, AdamW), the first step excluded.',
    `- ${COS_SGD}: for each adapted layer (Full-FT: each of q, k, v, o, up, down), the cosine between the Full-FT gradient G = Xᵀ·dY of its effective weight W + σAB, at the same parameters and batch, and −ΔW_SGD, the change of the effective weight per unit learning rate that one plain SGD step on the method's gradients would make, negated: σ·A·g̃_B for LoRA-FA — the quantity Theorem 4.1 optimises (the closed form makes it P_A·G, the best any direction within col(A) can do) —, σ·g̃_A·B for LoRA-FB, σ(g_A·B + A·g_B) for LoRA (first order), and G itself for Full-FT (so 1). It is the direction of the gradient handed to the optimizer, not the update applied. Mean over layers and over the measurement steps (0, ¼, ½ and ¾ of the run).`,
    `- ${COS_ADAMW}: the same cosine for the update the run actually applied at that step: −ΔW_AdamW = (W + σAB) before − (W + σAB) after the step (gradient clipping at 1, AdamW's normalised moments, decoupled weight decay), read on the host around opt.step(). Positive means the step moved against the Full-FT gradient.`,
    '',
    '## Saved activations: measured = analytic + corrections',
    '',
  ];
  for (const r of results) {
    const exact = r.savedBytes === r.expectedBytes ? 'exactly' : `NOT (off by ${r.savedBytes - r.expectedBytes} bytes)`;
    lines.push(`### ${r.label}`, '', `measured ${r.savedBytes} bytes = analytic ${r.analyticBytes} + corrections ${r.expectedBytes - r.analyticBytes}: holds ${exact}.`, '');
    for (const c of r.corrections) lines.push(`- ${c.bytes >= 0 ? '+' : '−'}${Math.abs(c.bytes)} bytes, ${c.what}: ${c.why}.`);
    lines.push('');
  }
  const aligned = results.filter((r) => r.alignment.length);
  if (aligned.length) {
    const steps = aligned[0]!.alignment;
    lines.push(`## ${COS_SGD} / ${COS_ADAMW} at each measurement step`, '', `| method | ${steps.map((c) => `step ${c.step}`).join(' | ')} |`, `| --- |${steps.map(() => ' ---: ').join('|')}|`);
    for (const r of aligned) lines.push(`| ${r.label} | ${r.alignment.map((c) => `${c.sgd.toFixed(3)} / ${c.adamw.toFixed(3)}`).join(' | ')} |`);
    lines.push('');
  }
  return lines.join('\n');
}
