/**
 * The saved activation bytes of one training step of lorafa's GPT (src/nn/transformer.ts),
 * exactly: the analytic per-layer model (methodMemory: Korthikanti et al.'s columns plus the
 * method's linear inputs and XA products) times the number of layers, and each place where this
 * engine's GPT differs from that per-layer model, with its reason. measured = analytic + Σ
 * corrections holds to the byte (`npm run verify`, claims 14 and 16; test/lab, test/memory).
 *
 * Under a PEFT method only the adapters train, so an op records (and saves) only when one of its
 * inputs needs a gradient: nothing in block 0 before its first adapted linear does. With T the
 * adapted linears (the same names in every block) and no gradient reaching block 0's input:
 *   Q·Kᵀ keeps K if q ∈ T and Q if k ∈ T; softmax keeps P if q or k ∈ T; P̃·V keeps P̃ (= P
 *   without dropout) if v ∈ T and V if q or k ∈ T; the residual h = x + attn(…) needs a gradient
 *   if any of q, k, v, o ∈ T, and then the MLP LayerNorm keeps its input and statistics; GELU keeps
 *   its input if h needs a gradient or up ∈ T. Blocks 1 … L − 1 keep everything.
 */
import type { GptConfig } from '../nn/transformer.ts';
import type { AdapterKind } from './adapters.ts';
import { fail } from '../errors.ts';
import { baseLayerActivations, elementBytes, layerActivations, layerLinears, methodMemory, mlpOutputBytes, PRECISION_BYTES, savedWeights, type Checkpointing, type ElementBytes, type TransformerConfig } from './model.ts';
import type { TrainingPrecision } from './precision.ts';

export interface Correction {
  what: string;
  bytes: number;
  why: string;
}

export interface SavedBreakdown {
  /** methodMemory(...).activations: L × the per-layer model. */
  analytic: number;
  corrections: Correction[];
  /** analytic + Σ corrections: what measureSaved should report. */
  expected: number;
}

export interface GptStep {
  batch: number;
  seq: number;
  rank: number;
  /** The adapted linears of every block, by name (default all six: q, k, v, o, up, down). */
  targets?: readonly string[];
  /** Activation checkpointing of every block (none by default; with it, all six linears adapted). */
  checkpoint?: Checkpointing;
  /** The run's precision (fp32 by default; src/memory/precision.ts). */
  precision?: TrainingPrecision;
}

/** Our GPT as the analytic model's config: GELU MLP of width 4d, untied embeddings. */
export function transformerConfig(cfg: GptConfig): TransformerConfig {
  return { name: 'tiny GPT', layers: cfg.layers, hidden: cfg.dim, heads: cfg.heads, ffn: 4 * cfg.dim, vocab: cfg.vocab, mlp: 'gelu', dropout: (cfg.dropout ?? 0) > 0, tiedEmbeddings: false };
}

/**
 * Bytes block 0 keeps of the method-independent items (LayerNorm statistics, float32, included;
 * dropout masks left out) when only T trains: the rules in the header; b: bytes per element. With
 * every linear adapted this is the full set minus the attention LayerNorm's input and statistics.
 * Under autocast P·V keeps its own 16-bit copy of P (P̃) and QKᵀ's scale a 2-byte copy.
 */
function blockZero(tcfg: TransformerConfig, run: GptStep, T: ReadonlySet<string>, b: ElementBytes, gelu: number): number {
  const N = run.batch * run.seq, d = tcfg.hidden, P = tcfg.heads * run.batch * run.seq * run.seq;
  const autocast = run.precision === 'autocast-bf16';
  const qk = T.has('q') || T.has('k');
  const h = qk || T.has('v') || T.has('o');
  return ((T.has('k') ? N * d : 0) + (T.has('q') ? N * d : 0)) * b.matmul // Q and K for Q·Kᵀ
    + (qk || (T.has('v') && !tcfg.dropout && !autocast) ? P * b.float32 : 0) // P, kept by softmax (or by P·V when P̃ = P)
    + ((tcfg.dropout || autocast) && T.has('v') ? P * b.matmul : 0) //      P̃ (or P's 16-bit copy), kept by P̃·V for V's gradient
    + (qk ? N * d * b.matmul : 0) //                                         V, kept by P̃·V for P̃'s gradient
    + (autocast && qk ? b.matmul : 0) //                                     the scale's copy, kept by ·(1/√dh)
    + (h ? N * d * b.float32 + 2 * N * 4 : 0) //                             MLP LayerNorm input, mean and rstd (float32)
    + (h || T.has('up') ? N * tcfg.ffn * gelu : 0); //                       GELU input
}

/**
 * Under autocast, the 16-bit weight copies block 0's linears do not keep because their input
 * needs no gradient (nothing before block 0 trains): q, k and v always, o unless q, k or v train,
 * up unless one of q, k, v, o trains, down unless one of those or up trains (savedWeights).
 */
function blockZeroWeightCopies(tcfg: TransformerConfig, method: AdapterKind, run: GptStep, T: ReadonlySet<string>, b: ElementBytes): number {
  const attn = T.has('q') || T.has('k') || T.has('v'), h = attn || T.has('o');
  const inputNeedsGrad: Record<string, boolean> = { q: false, k: false, v: false, o: attn, up: h, down: h || T.has('up') };
  return layerLinears(tcfg).filter((l) => !inputNeedsGrad[l.name]).reduce((n, l) => {
    const kind = T.has(l.name) ? method : 'full', dims = { d: l.in, o: l.out, r: run.rank };
    return n + (savedWeights(kind, dims, true) - savedWeights(kind, dims, false)) * b.matmul;
  }, 0);
}

/**
 * Saved bytes of `model.loss(x, y)` on a batch of b sequences of length s in float32, with the
 * method's adapters on `targets` of every block (all six by default), no adapter dropout, and the
 * blocks checkpointed as `run.checkpoint` says (none by default).
 */
export function savedBreakdown(cfg: GptConfig, method: AdapterKind, run: GptStep): SavedBreakdown {
  const N = run.batch * run.seq, d = cfg.dim, L = cfg.layers;
  const precision = run.precision ?? 'fp32', autocast = precision === 'autocast-bf16';
  const tcfg = transformerConfig(cfg);
  const mode = run.checkpoint ?? 'none';
  const shape = { batch: run.batch, seq: run.seq, bytes: PRECISION_BYTES[precision], rank: run.rank, checkpoint: mode, precision };
  const b = elementBytes(shape);
  const all = layerLinears(tcfg).map((l) => l.name);
  const T = new Set(method === 'full' ? all : run.targets ?? all);
  if (mode !== 'none' && T.size !== all.length) {
    fail('savedBreakdown', `checkpoint '${mode}' with targets [${[...T].join(', ')}]; expected every linear adapted (${all.join(', ')}) under checkpointing`);
  }
  const analytic = methodMemory(tcfg, method, { ...shape, targets: [...T] }).activations;
  if (T.size === 0) {
    return { analytic, corrections: [{ what: 'everything', bytes: -analytic, why: 'no linear is adapted and the base is frozen: nothing needs a gradient, so no op records anything' }], expected: 0 };
  }
  // full checkpointing keeps only each block's input: of the LayerNorm statistics only lnF's remain
  const lnCount = mode === 'full' ? 1 : 2 * L + 1;
  const corrections: Correction[] = [
    { what: `LayerNorm mean and rstd (${lnCount} LayerNorm${lnCount > 1 ? 's' : ''} × 2 × N floats)`, bytes: lnCount * 2 * N * 4, why: 'the LayerNorm op keeps its per-row statistics for backward, in float32 in every precision; Korthikanti et al. count only its input' },
  ];
  if (method === 'full') {
    corrections.push({ what: 'token indices (int32 [b, s])', bytes: N * 4, why: 'the trained embedding table needs them for its scatter-add backward' });
  } else if (mode === 'none') {
    const base = baseLayerActivations(tcfg, shape, method).filter((i) => !i.name.endsWith('mask'));
    const full = base.reduce((n, i) => n + i.bytes, 0) + 4 * N * 4; // with block 0's two LayerNorms' statistics
    corrections.push({ what: 'block 0 before its first adapted linear', bytes: blockZero(tcfg, run, T, b, mlpOutputBytes({ ...shape, targets: [...T] }, method)) - full, why: 'the embeddings and the base are frozen, so no gradient reaches block 0\'s input: its ops before the first adapted linear record nothing (with all six adapted: the attention LayerNorm)' });
  } else if (mode === 'selective') {
    corrections.push({ what: 'block 0 attention LayerNorm statistics', bytes: -2 * N * 4, why: 'nothing before block 0 needs a gradient, so its first LayerNorm records nothing' });
  }
  if (autocast && method !== 'full' && mode !== 'full') {
    corrections.push({ what: 'block 0 weight copies', bytes: -blockZeroWeightCopies(tcfg, method, run, T, b), why: 'a linear of block 0 whose input needs no gradient keeps no 16-bit copy of its weights (q, k, v: nothing before block 0 trains)' });
  }
  corrections.push({ what: 'final LayerNorm input', bytes: N * d * b.float32, why: 'outside the layers: lnF before the output head' });
  if (method === 'full') corrections.push({ what: 'output head input', bytes: N * d * b.matmul, why: 'the trained head needs its input for ∂W (frozen under PEFT: nothing kept)' });
  if (autocast) corrections.push({ what: 'output head: 16-bit weight copy', bytes: d * cfg.vocab * b.matmul, why: 'the head\'s input needs a gradient, so its linear keeps the 16-bit copy of W it ran with' });
  corrections.push({ what: 'cross entropy: logits, logsumexp, targets, count', bytes: N * cfg.vocab * b.float32 + (2 * N + 1) * 4, why: 'outside the layers: the loss keeps logits [N, V] (under autocast its float32 copy), and in float32 or int32 lse [N], targets [N] and the token count' });
  const masks = layerActivations(tcfg, method, shape).kept.filter((i) => i.name.endsWith('mask'));
  if (masks.length) {
    corrections.push({ what: 'dropout masks', bytes: -L * masks.reduce((n, i) => n + i.bytes, 0), why: 'our dropout regenerates its mask from (seed, offset) in backward and stores no mask' });
  }
  return { analytic, corrections, expected: analytic + corrections.reduce((n, c) => n + c.bytes, 0) };
}
