/**
 * `lorafa calc`: weight, gradient, optimizer-state and activation memory of fine-tuning a
 * transformer with each method, from the analytic model of src/memory; reproduces the paper's
 * Appendix C comparison and audits its Table 7.
 *   lorafa calc --model llama2-7b --batch 8 --seq 1024 --dtype bf16
 *   lorafa calc --model custom --layers 2 --hidden 64 --heads 4 --ffn 256 --vocab 77 --mlp gelu --dtype fp32
 */
import { TRAINING_PRECISIONS, type TrainingPrecision } from '../memory/precision.ts';
import { appendixC, auditTable7, CHECKPOINTING, elementBytes, PRECISION_BYTES, korthikantiBytes, layerLinears, methodMemory, MODELS, PEFT_METHODS, type Checkpointing, type TransformerConfig } from '../memory/index.ts';
import { fmtBytes } from '../memory/format.ts';
import { runCommand, UsageError, type Values } from './options.ts';

const positive = (help: string) => ({ kind: 'int', min: 1, help } as const);

export const CALC = {
  name: 'calc',
  summary: 'Weights, gradients, AdamW state and activations of fine-tuning a transformer with each method (the analytic model).',
  options: {
    model: { kind: 'string', default: 'llama2-7b', choices: [...Object.keys(MODELS), 'custom'], help: 'a known model, or custom (with the options below)' },
    batch: { kind: 'int', default: 8, min: 1, help: 'sequences per batch, b' },
    seq: { kind: 'int', default: 1024, min: 1, help: 'sequence length, s' },
    dtype: {
      kind: 'string', default: 'bf16', choices: TRAINING_PRECISIONS,
      help: 'precision as lorafa trains in it: fp32; bf16/fp16 (pure 16-bit: weights, activations, gradients, AdamW moments); autocast-bf16 (float32 weights/gradients/moments, 16-bit matmul inputs and weight copies, float32 softmax/LayerNorm)',
    },
    rank: { kind: 'int', default: 16, min: 1, help: 'adapter rank, r' },
    targets: { kind: 'list', meta: 'q,k,v,...', help: "the adapted linears (default: every linear of the model's layers)" },
    checkpoint: {
      kind: 'string', default: 'none', choices: CHECKPOINTING,
      help: 'activation checkpointing of every layer: full keeps only each layer\'s input, selective recomputes the attention scores (b·h·s²)',
    },
    'peft-dropout': {
      kind: 'flag',
      help: "model LoRA as Hugging Face PEFT with lora_dropout > 0 (each adapted linear keeps its own dropped copy of X and a 1-byte mask)",
    },
    layers: positive('custom: transformer layers, L'),
    hidden: positive('custom: model width, d'),
    heads: positive('custom: attention heads, h'),
    ffn: positive('custom: MLP width'),
    vocab: positive('custom: vocabulary size'),
    'kv-hidden': positive('custom: width of k and v (grouped-query attention; default d)'),
    mlp: { kind: 'string', default: 'swiglu', choices: ['swiglu', 'gelu'], help: 'custom: MLP kind' },
  },
  notes: `Without --peft-dropout (and for LoRA-FA and LoRA-FB always), adapter dropout is modelled as lorafa's own ops
do it: the mask is regenerated from a seed in backward, so dropout adds no saved bytes to any method.
  lorafa calc --model llama2-7b --batch 8 --seq 1024 --dtype bf16
  lorafa calc --model custom --layers 2 --hidden 64 --heads 4 --ffn 256 --vocab 77 --mlp gelu --dtype fp32`,
} as const;

const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;

function modelConfig(v: Values<typeof CALC.options>): TransformerConfig {
  if (v.model !== 'custom') return MODELS[v.model]!;
  const need = (name: 'layers' | 'hidden' | 'heads' | 'ffn' | 'vocab'): number => {
    if (v[name] === undefined) throw new UsageError(`--model custom needs --${name}; expected all of --layers, --hidden, --heads, --ffn and --vocab`);
    return v[name];
  };
  return {
    name: 'custom', layers: need('layers'), hidden: need('hidden'), heads: need('heads'), ffn: need('ffn'), vocab: need('vocab'),
    mlp: v.mlp as 'swiglu' | 'gelu', ...(v['kv-hidden'] !== undefined ? { kvHidden: v['kv-hidden'] } : {}),
    dropout: false, tiedEmbeddings: false,
  };
}

export function run(args: string[]): Promise<number> {
  return runCommand(CALC, args, calc);
}

async function calc(v: Values<typeof CALC.options>): Promise<number> {
  const cfg = modelConfig(v);
  const precision = v.dtype as TrainingPrecision;
  const bytes = PRECISION_BYTES[precision];
  const { batch, seq, rank } = v;
  const names = layerLinears(cfg).map((l) => l.name);
  const targets = v.targets ?? names;
  const bad = targets.filter((t) => !names.includes(t));
  if (bad.length) throw new UsageError(`--targets ${bad.join(',')} not in this model's linears (${names.join(', ')})`);
  // the lab's rule: 1 ≤ r ≤ min(d, o) of every adapted linear (W [d, o])
  const maxRank = Math.min(...layerLinears(cfg).filter((l) => targets.includes(l.name)).map((l) => Math.min(l.in, l.out)));
  if (rank > maxRank) throw new UsageError(`--rank ${rank} exceeds min(d, o) = ${maxRank} of the adapted linears (${targets.join(', ')}); expected an integer ≤ ${maxRank}`);
  const checkpoint = v.checkpoint as Checkpointing;
  const run = { batch, seq, bytes, rank, targets, peftDropout: v['peft-dropout'], checkpoint, precision };

  console.log(`${cfg.name}: L = ${cfg.layers}, d = ${cfg.hidden}, h = ${cfg.heads}, MLP ${cfg.mlp} of width ${cfg.ffn}, vocabulary ${cfg.vocab}` +
    `${cfg.kvHidden ? `, k/v width ${cfg.kvHidden}` : ''}; b = ${batch}, s = ${seq}, ${precision} (${bytes}-byte weights), rank ${rank}, adapters on ${targets.join(', ')}` +
    `${v['peft-dropout'] ? "; LoRA with PEFT's adapter dropout (own dropped copy of X and a 1-byte mask per adapted linear)" : ''}\n`);
  const recompute = checkpoint !== 'none';
  const rows = [['method', 'trainable', 'weights', 'gradients', 'AdamW state', 'activations', ...(recompute ? ['recomputed'] : []), 'total', 'what it changes']];
  const mem = new Map(PEFT_METHODS.map((p) => [p.key, methodMemory(cfg, p.kind, run)]));
  for (const p of PEFT_METHODS) {
    const m = mem.get(p.key)!;
    rows.push([p.label, `${(m.trainableParams / 1e6).toFixed(2)} M`, fmtBytes(m.weights), fmtBytes(m.gradients), fmtBytes(m.optimizer), fmtBytes(m.activations),
      ...(recompute ? [fmtBytes(m.recomputed)] : []), fmtBytes(m.total), p.note]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((x, c) => (c === 0 || c === r.length - 1 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  ').trimEnd());
  console.log(`\nweights: every parameter (A and B included) at ${bytes} bytes; gradients: trainable parameters at ${bytes} bytes; AdamW: two moments per trainable parameter (${precision === 'bf16' || precision === 'fp16' ? '16-bit, in the parameters\' dtype' : 'float32'});`);
  console.log('activations: what autograd keeps for backward in all layers (Korthikanti et al.\'s tensors plus each method\'s linear inputs and XA), no output head;');
  if (precision === 'autocast-bf16') console.log('autocast-bf16: matmul inputs, Q, K, V, GELU input and XA 16-bit, LayerNorm inputs and softmax output float32; q, k, v each keep their own 16-bit copy of the LN output; every linear keeps 16-bit copies of its weights (W, A, B);');
  if (checkpoint === 'full') console.log('checkpointing full: each layer keeps only its input [b·s, d]; recomputed: one layer\'s tensors, held again while backward recomputes it;');
  if (checkpoint === 'selective') console.log('checkpointing selective: the attention scores (softmax output, its dropout) are recomputed; recomputed: one layer\'s b·h·s² tensors, held again in backward;');
  console.log(v['peft-dropout']
    ? 'LoRA as PEFT keeps it with lora_dropout > 0; LoRA-FA and LoRA-FB as lorafa\'s ops keep them (dropout masks regenerated in backward: no extra bytes).\n'
    : 'any adapter dropout as lorafa\'s ops do it (masks regenerated in backward: no extra bytes); --peft-dropout models PEFT\'s LoRA instead.\n');

  const [lora, fa] = [mem.get('lora')!, mem.get('lorafa')!];
  console.log(`LoRA-FA saves ${gb(lora.activations - fa.activations)} (${fmtBytes(lora.activations - fa.activations)}) of activations versus LoRA with these settings.\n`);

  const activationBytes = elementBytes(run).matmul; // what a linear's saved input costs per element
  const c = appendixC(cfg, batch, seq, activationBytes);
  console.log('Appendix C (LoRA keeps each adapted linear\'s input X; LoRA-FA keeps only XA):');
  for (const line of c.accounting) console.log(`  ${line}`);
  if (cfg === MODELS['llama2-7b'] && batch === 8 && seq === 1024 && activationBytes === 2) {
    const holds = (x: number) => (x >= 18e9 ? 'holds' : 'does not hold');
    console.log(`  the paper's "at least 18 GB": ${holds(c.ownCopies)} with own copies (${gb(c.ownCopies)}), ${holds(c.sharedInputs)} with shared inputs (${gb(c.sharedInputs)})`);
  }

  const korth = korthikantiBytes(batch, seq, cfg.hidden, cfg.heads);
  console.log(`\nKorthikanti et al. (16-bit, per layer): 34·b·s·d + 5·b·h·s² = ${korth} bytes = ${fmtBytes(korth)}; × L = ${fmtBytes(korth * cfg.layers)}`);
  console.log('\nTable 7 audit (coefficients of b·s·d and b·h·s², bytes per layer):');
  for (const a of auditTable7()) {
    console.log(`  ${a.precision.padEnd(13)} printed ${a.printedSum.padEnd(13)} sum of its columns ${a.columnsSum.padEnd(13)} ${a.printedSumMatchesColumns ? 'agrees' : 'DISAGREES'}; recomputed from what each column stores: ${a.recomputedSum}`);
    for (const w of a.wrongCells) console.log(`      cell "${w.column}": printed ${w.printed}, bytes × tensor gives ${w.expected}`);
  }
  return 0;
}
