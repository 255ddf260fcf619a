/**
 * Analytic memory of fine-tuning a transformer with each method's kind (adapters.ts: Full-FT,
 * LoRA, LoRA-FA, LoRA-FB, LoRA-Pro, DoRA, VeRA; rsLoRA, LoRA+, PiSSA and LoRA-GA have LoRA's):
 * weights, gradients, optimizer state and the activations autograd saves. The activation model
 * lists every tensor a layer keeps for backward (Korthikanti et al. 2023, in the accounting of
 * docs/math.md) and decides per method which linear-layer inputs must be kept:
 *   Full-FT          X of every linear (for ∂W = Xᵀ·dY);
 *   LoRA, LoRA-Pro   X of each adapted linear (for g_A) and XA (for g_B);
 *   LoRA-FB          X of each adapted linear (for g_A), no XA;
 *   LoRA-FA          only XA (N×r) per adapted linear;
 *   DoRA             X, XA and X·V (N×o) per adapted linear;
 *   VeRA             XA and (XA ⊙ d)·B (N×o) per adapted linear, never X.
 * Frozen, non-adapted linears keep nothing (their input gradient needs only W). Linears that
 * read one tensor share its saved copy.
 *
 * Adapter dropout is modelled as this engine's ops do it unless `peftDropout` is set: lorafa's
 * ops.lora, ops.loraFA and ops.loraFB regenerate the mask from (seed, offset) in backward, so
 * dropout adds nothing to any method (LoRA keeps the one shared X, LoRA-FA only XA). With
 * `peftDropout`, LoRA is modelled as Hugging Face PEFT's LoraLayer with lora_dropout > 0: an
 * nn.Dropout per adapter, so each adapted linear keeps its own dropped copy of X (dtype bytes)
 * and its mask (1 byte per element) instead of sharing X. The flag changes only the LoRA row.
 *
 * Activation checkpointing per layer (`checkpoint`, src/autograd/checkpoint.ts, docs/math.md):
 *   none       every tensor above is kept from forward to backward;
 *   selective  the attention scores' b·h·s² tensors (softmax output, its dropout mask and dropped
 *              copy) are recomputed in backward: kept = the rest (Korthikanti et al.'s 34·b·s·d at 16 bits);
 *   full       only the layer's input [N, d] is kept (2·b·s·d at 16 bits);
 * and backward holds one layer's recomputed tensors at a time on top of what is kept (`recomputed`).
 *
 * Precision (`precision`, src/memory/precision.ts; without it every element is `bytes`):
 *   fp32, bf16, fp16  every kept tensor, weight, gradient and AdamW moment at 4 / 2 / 2 bytes;
 *   autocast-bf16     weights, gradients and moments float32; what matmul-like ops save is 16-bit
 *                     (their inputs' copies, Q, K, V, the GELU input, XA), what softmax and the
 *                     LayerNorms save is float32; a linear reading a float32 tensor (a LayerNorm's
 *                     output) keeps its own 16-bit copy of it (one cast per op: q, k and v keep
 *                     three); softmax keeps P in float32 and P·V a 16-bit copy of it; every op
 *                     whose input needs a gradient keeps 16-bit copies of its weights (W, and A, B,
 *                     DoRA's m, VeRA's d and b) and QKᵀ's scale keeps a 2-byte copy of 1/√dh.
 */

import { adapterStored, adapterTrainable, type AdapterKind } from './adapters.ts';
import type { TrainingPrecision } from './precision.ts';

export { auditTable7, type Table7Audit } from './table7.ts';

/** The four methods of the LoRA-FA paper (AdapterKind in adapters.ts has them all). */
export type Method = 'full' | 'lora' | 'lorafa' | 'lorafb';
export const METHODS: readonly Method[] = ['full', 'lora', 'lorafa', 'lorafb'];

export interface LinearSpec {
  name: string;
  in: number;
  out: number;
  /** Linears that read the same tensor share one saved copy of it (q, k, v read the LN output). */
  input: string;
}

export interface TransformerConfig {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  ffn: number;
  vocab: number;
  /** 'gelu': up → GELU → down (GPT); 'swiglu': silu(gate)·up → down (Llama). */
  mlp: 'gelu' | 'swiglu';
  /** Width of k and v (grouped-query attention); hidden when absent. */
  kvHidden?: number;
  dropout: boolean;
  tiedEmbeddings: boolean;
}

export const MODELS: Record<string, TransformerConfig> = {
  'llama2-7b': { name: 'Llama2-7B', layers: 32, hidden: 4096, heads: 32, ffn: 11008, vocab: 32000, mlp: 'swiglu', dropout: false, tiedEmbeddings: false },
  'llama3-8b': { name: 'Llama3-8B', layers: 32, hidden: 4096, heads: 32, ffn: 14336, vocab: 128256, mlp: 'swiglu', kvHidden: 1024, dropout: false, tiedEmbeddings: false },
};


/** The linear layers of one transformer layer, with which saved input each reads. */
export function layerLinears(cfg: TransformerConfig): LinearSpec[] {
  const d = cfg.hidden, kv = cfg.kvHidden ?? d;
  const attn: LinearSpec[] = [
    { name: 'q', in: d, out: d, input: 'attention LN output' },
    { name: 'k', in: d, out: kv, input: 'attention LN output' },
    { name: 'v', in: d, out: kv, input: 'attention LN output' },
    { name: 'o', in: d, out: d, input: 'attention output' },
  ];
  const mlp: LinearSpec[] = cfg.mlp === 'swiglu'
    ? [{ name: 'gate', in: d, out: cfg.ffn, input: 'MLP LN output' }, { name: 'up', in: d, out: cfg.ffn, input: 'MLP LN output' }]
    : [{ name: 'up', in: d, out: cfg.ffn, input: 'MLP LN output' }];
  return [...attn, ...mlp, { name: 'down', in: cfg.ffn, out: d, input: 'MLP activation output' }];
}

export interface Item {
  name: string;
  elements: number;
  bytes: number;
}

export interface RunShape {
  batch: number;
  seq: number;
  /** Bytes per element of activations and weights (2 for bf16). */
  bytes: number;
  rank: number;
  /** Adapted linears by name (all of them by default). */
  targets?: readonly string[];
  /**
   * Model LoRA with adapter dropout as PEFT does it (each adapted linear keeps its own dropped
   * copy of X and a 1-byte mask). Off: lorafa's own ops, whose regenerated masks cost nothing.
   */
  peftDropout?: boolean;
  /** Activation checkpointing of every layer (none by default). */
  checkpoint?: Checkpointing;
  /** The training precision (precision.ts); without it every element is `bytes` and AdamW moments float32. */
  precision?: TrainingPrecision;
}

/** Bytes per element: weights (and gradients), AdamW moments, what matmul-like ops keep, what softmax / LayerNorm keep. */
export interface ElementBytes {
  weights: number;
  moments: number;
  matmul: number;
  float32: number;
}

export function elementBytes(run: Pick<RunShape, 'bytes' | 'precision'>): ElementBytes {
  switch (run.precision) {
    case undefined: return { weights: run.bytes, moments: 4, matmul: run.bytes, float32: run.bytes };
    case 'fp32': return { weights: 4, moments: 4, matmul: 4, float32: 4 };
    case 'bf16': case 'fp16': return { weights: 2, moments: 2, matmul: 2, float32: 2 };
    case 'autocast-bf16': return { weights: 4, moments: 4, matmul: 2, float32: 4 };
  }
}

/** The bytes per weight element of a precision (what `RunShape.bytes` is with it). */
export const PRECISION_BYTES: Record<TrainingPrecision, number> = { fp32: 4, bf16: 2, fp16: 2, 'autocast-bf16': 4 };

export type Checkpointing = 'none' | 'full' | 'selective';
export const CHECKPOINTING: readonly Checkpointing[] = ['none', 'full', 'selective'];

/** Names of baseLayerActivations' b·h·s² items: what selective checkpointing recomputes. */
const ATTENTION_SCORE_ITEMS = new Set(['softmax output', 'attention dropout mask', 'dropped probabilities', 'probabilities, 16-bit copy (input of ·V)']);

/**
 * What one layer keeps for backward under the run's checkpointing, and what backward holds again
 * while it recomputes that layer (the rest of the layer's tensors).
 */
export function layerActivations(cfg: TransformerConfig, method: AdapterKind, run: RunShape): { kept: Item[]; recomputed: Item[] } {
  const all = [...baseLayerActivations(cfg, run, method), ...adapterLayerActivations(cfg, method, run)];
  const mode = run.checkpoint ?? 'none';
  if (mode === 'none') return { kept: all, recomputed: [] };
  if (mode === 'selective') {
    return { kept: all.filter((i) => !ATTENTION_SCORE_ITEMS.has(i.name)), recomputed: all.filter((i) => ATTENTION_SCORE_ITEMS.has(i.name)) };
  }
  const N = run.batch * run.seq;
  return { kept: [{ name: 'layer input (checkpoint)', elements: N * cfg.hidden, bytes: N * cfg.hidden * elementBytes(run).float32 }], recomputed: all };
}

/**
 * Bytes per element of an MLP linear's output (the GELU / SiLU input): what matmul-like ops make,
 * except under autocast when DoRA or VeRA adapts it: their layers add the float32 bias after the
 * op, which promotes the output to float32.
 */
export function mlpOutputBytes(run: RunShape, method: AdapterKind = 'full'): number {
  const b = elementBytes(run);
  const adaptsUp = (run.targets ?? ['up']).includes('up') || (run.targets ?? []).includes('gate');
  return run.precision === 'autocast-bf16' && (method === 'dora' || method === 'vera') && adaptsUp ? b.float32 : b.matmul;
}

/** Tensors one layer saves for backward that do not depend on the method (16-bit: 20·bsd + 5·bhs² for GPT), but for mlpOutputBytes. */
export function baseLayerActivations(cfg: TransformerConfig, run: RunShape, method: AdapterKind = 'full'): Item[] {
  const N = run.batch * run.seq, d = cfg.hidden, kv = cfg.kvHidden ?? d;
  const { matmul: m, float32: f } = elementBytes(run);
  const u = mlpOutputBytes(run, method);
  const autocast = run.precision === 'autocast-bf16';
  const probs = cfg.heads * run.batch * run.seq * run.seq;
  const items: [string, number, number][] = [
    ['attention LN input', N * d, f],
    ['q, k (for QKᵀ)', N * (d + kv), m],
    ['softmax output', probs, f],
    ['v (for probs·V)', N * kv, m],
    ['MLP LN input', N * d, f],
  ];
  if (cfg.dropout) items.push(['attention dropout mask', probs, 1], ['dropped probabilities', probs, m], ['output dropout mask', N * d, 1], ['MLP dropout mask', N * d, 1]);
  else if (autocast) items.push(['probabilities, 16-bit copy (input of ·V)', probs, m]);
  if (autocast) items.push(['1/√dh, 16-bit copy (QKᵀ scale)', 1, m]);
  if (cfg.mlp === 'gelu') items.push(['GELU input', N * cfg.ffn, u]);
  else items.push(['gate output (silu input)', N * cfg.ffn, u], ['silu output', N * cfg.ffn, u], ['up output', N * cfg.ffn, u]);
  return items.map(([name, elements, bytes]) => ({ name, elements, bytes: elements * bytes }));
}

/** The method-dependent tensors one layer saves: linear inputs, XA products and DoRA's / VeRA's N×o products. */
export function adapterLayerActivations(cfg: TransformerConfig, method: AdapterKind, run: RunShape): Item[] {
  const N = run.batch * run.seq, e = elementBytes(run).matmul;
  const linears = layerLinears(cfg);
  const adapted = new Set(run.targets ?? linears.map((l) => l.name));
  const items: Item[] = [];
  const sharedInputs = new Set<string>();
  const autocast = run.precision === 'autocast-bf16';
  for (const l of linears) {
    const isAdapted = method === 'full' || adapted.has(l.name);
    if (autocast) {
      const elements = savedWeights(isAdapted ? method : 'full', { d: l.in, o: l.out, r: run.rank }, true);
      items.push({ name: `${l.name}: 16-bit weight copies (autocast)`, elements, bytes: elements * e });
    }
    if (!isAdapted) continue;
    const needsX = method !== 'lorafa' && method !== 'vera';
    // under autocast a linear reading a float32 tensor (a LayerNorm's output) casts it itself: its own copy
    const ownCopy = autocast && l.input.endsWith('LN output');
    if (needsX && ownCopy) {
      items.push({ name: `input of ${l.name} (its own 16-bit copy)`, elements: N * l.in, bytes: N * l.in * e });
    } else if (needsX && method === 'lora' && run.peftDropout) {
      items.push({ name: `${l.name}: dropped input (PEFT's own copy)`, elements: N * l.in, bytes: N * l.in * e });
      items.push({ name: `${l.name}: dropout mask (PEFT)`, elements: N * l.in, bytes: N * l.in });
    } else if (needsX && !sharedInputs.has(l.input)) {
      sharedInputs.add(l.input);
      items.push({ name: `input of ${linears.filter((m) => m.input === l.input && (method === 'full' || adapted.has(m.name))).map((m) => m.name).join(', ')}`, elements: N * l.in, bytes: N * l.in * e });
    }
    if (method !== 'full' && method !== 'lorafb') items.push({ name: `${l.name}: XA`, elements: N * run.rank, bytes: N * run.rank * e });
    if (method === 'dora') items.push({ name: `${l.name}: X·V (DoRA)`, elements: N * l.out, bytes: N * l.out * e });
    if (method === 'vera') items.push({ name: `${l.name}: (XA ⊙ d)·B (VeRA)`, elements: N * l.out, bytes: N * l.out * e });
  }
  return items;
}

/**
 * Weight elements a linear's op keeps for backward (what autocast keeps 16-bit copies of), by
 * whether its input needs a gradient ('full': a plain linear, W only then). With it, every
 * weight of the op: W, A, B, DoRA's m, VeRA's d and b; without it, what the trained factors'
 * gradients need: LoRA and LoRA-FB B, LoRA-Pro A and B, DoRA all, VeRA B, d and b.
 */
export function savedWeights(method: AdapterKind, { d, o, r }: { d: number; o: number; r: number }, inputNeedsGrad: boolean): number {
  if (inputNeedsGrad) return d * o + { full: 0, lora: r * (d + o), lorafa: r * (d + o), lorafb: r * (d + o), lorapro: r * (d + o), dora: r * (d + o) + o, vera: r * (d + o) + r + o }[method];
  return { full: 0, lora: r * o, lorafa: 0, lorafb: r * o, lorapro: r * (d + o), dora: d * o + r * (d + o) + o, vera: r * o + r + o }[method];
}

export interface MethodMemory<K extends AdapterKind = AdapterKind> {
  method: K;
  totalParams: number;
  trainableParams: number;
  weights: number;
  gradients: number;
  /** AdamW: two moments per trainable parameter (float32; in the weights' dtype for pure 16-bit precisions). */
  optimizer: number;
  /** What every layer keeps for backward (after checkpointing). */
  activations: number;
  /** Bytes backward holds again while it recomputes one layer (0 without checkpointing). */
  recomputed: number;
  /** weights + gradients + optimizer + activations + recomputed. */
  total: number;
}

/**
 * Weights, gradients, AdamW state and saved activations of fine-tuning cfg with a method's kind.
 * Weights count every stored parameter: the base, A and B of every adapted linear (both stored
 * whichever trains), DoRA's m, VeRA's d and b, and VeRA's one shared A [d_max, r] and B [r, o_max].
 */
export function methodMemory<K extends AdapterKind>(cfg: TransformerConfig, method: K, run: RunShape): MethodMemory<K> {
  const linears = layerLinears(cfg);
  const adapted = linears.filter((l) => (run.targets ?? linears.map((x) => x.name)).includes(l.name));
  const r = run.rank;
  const dims = (l: LinearSpec) => ({ d: l.in, o: l.out, r });
  const adapterParamsPerLayer = adapted.reduce((n, l) => n + adapterStored(method, dims(l)), 0);
  const shared = method === 'vera' ? r * (Math.max(...adapted.map((l) => l.in)) + Math.max(...adapted.map((l) => l.out))) : 0;
  const baseParams = cfg.layers * (linears.reduce((n, l) => n + l.in * l.out, 0) + 2 * cfg.hidden) + cfg.hidden + cfg.vocab * cfg.hidden * (cfg.tiedEmbeddings ? 1 : 2);
  const trainableParams = method === 'full' ? baseParams : cfg.layers * adapted.reduce((n, l) => n + adapterTrainable(method, dims(l)), 0);
  const totalParams = baseParams + cfg.layers * adapterParamsPerLayer + shared;
  const layer = layerActivations(cfg, method, run);
  const sum = (items: Item[]) => items.reduce((n, x) => n + x.bytes, 0);
  const bytes = elementBytes(run);
  const m = {
    method,
    totalParams,
    trainableParams,
    weights: totalParams * bytes.weights,
    gradients: trainableParams * bytes.weights,
    optimizer: trainableParams * 2 * bytes.moments,
    activations: cfg.layers * sum(layer.kept),
    recomputed: sum(layer.recomputed),
  };
  return { ...m, total: m.weights + m.gradients + m.optimizer + m.activations + m.recomputed };
}

/** Korthikanti et al.'s 16-bit activation bytes of one GPT layer: 34·b·s·d + 5·b·h·s². */
export function korthikantiBytes(b: number, s: number, d: number, h: number): number {
  return 34 * b * s * d + 5 * b * h * s * s;
}

export interface AppendixC {
  /** Bytes LoRA keeps that LoRA-FA does not, when each adapted linear keeps its own copy of its input. */
  ownCopies: number;
  /** The same when linears reading one tensor share it (q, k, v; gate, up). */
  sharedInputs: number;
  /** How each figure is made, one line per step. */
  accounting: string[];
}

/**
 * Appendix C: LoRA-FA's activation saving over LoRA for a model (default Llama2-7B, b = 8,
 * s = 1024, 16-bit). Both methods keep XA; LoRA also keeps each adapted linear's input X.
 */
export function appendixC(cfg: TransformerConfig = MODELS['llama2-7b']!, batch = 8, seq = 1024, bytes = 2): AppendixC {
  const linears = layerLinears(cfg);
  const N = batch * seq;
  const perLayerOwn = linears.reduce((n, l) => n + l.in, 0);
  const perLayerShared = [...new Map(linears.map((l) => [l.input, l.in])).values()].reduce((a, b) => a + b, 0);
  const own = cfg.layers * N * perLayerOwn * bytes, shared = cfg.layers * N * perLayerShared * bytes;
  const gb = (x: number) => `${(x / 1e9).toFixed(2)} GB (${(x / 2 ** 30).toFixed(2)} GiB)`;
  return {
    ownCopies: own,
    sharedInputs: shared,
    accounting: [
      `${cfg.name}: L = ${cfg.layers}, d = ${cfg.hidden}, MLP width ${cfg.ffn}; b = ${batch}, s = ${seq}, ${bytes} bytes per element`,
      `input widths of the adapted linears per layer: ${linears.map((l) => `${l.name} ${l.in}`).join(', ')} → Σ = ${perLayerOwn}`,
      `own copies (e.g. PEFT's LoRA dropout: a dropped copy per adapter): L·b·s·Σ·bytes = ${cfg.layers}·${N}·${perLayerOwn}·${bytes} = ${own} bytes = ${gb(own)}`,
      `shared inputs (${[...new Set(linears.map((l) => l.input))].join('; ')}): Σ = ${perLayerShared} → ${shared} bytes = ${gb(shared)}`,
    ],
  };
}
