/**
 * The saved activation bytes of one training step of our GPT, exactly: the analytic per-layer
 * model of src/memory (methodMemory, Korthikanti et al.'s columns plus the method's linear
 * inputs and XA products) times the number of layers, and each place where this engine's
 * GPT differs from that per-layer model, with its reason. measured = analytic + Σ corrections
 * holds to the byte (test/lab and test/bench check it).
 */
import type { AdapterKind } from '../memory/adapters.ts';
import { layerActivations, methodMemory, type Checkpointing, type TransformerConfig } from '../memory/model.ts';
import type { GptConfig } from '../nn/transformer.ts';

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

/** Our GPT as the analytic model's config: GELU MLP of width 4d, untied embeddings. */
export function transformerConfig(cfg: GptConfig): TransformerConfig {
  return { name: 'tiny GPT', layers: cfg.layers, hidden: cfg.dim, heads: cfg.heads, ffn: 4 * cfg.dim, vocab: cfg.vocab, mlp: 'gelu', dropout: (cfg.dropout ?? 0) > 0, tiedEmbeddings: false };
}

/**
 * Saved bytes of `model.loss(x, y)` on a batch of b sequences of length s in float32, with the
 * method's adapters on all six linears of every block (q, k, v, o, up, down), no adapter dropout,
 * and the blocks checkpointed as `run.checkpoint` says (none by default).
 */
export function savedBreakdown(cfg: GptConfig, method: AdapterKind, run: { batch: number; seq: number; rank: number; checkpoint?: Checkpointing }): SavedBreakdown {
  const e = 4, N = run.batch * run.seq, d = cfg.dim, L = cfg.layers;
  const tcfg = transformerConfig(cfg);
  const shape = { batch: run.batch, seq: run.seq, bytes: e, rank: run.rank, checkpoint: run.checkpoint };
  const analytic = methodMemory(tcfg, method, shape).activations;
  const peft = method !== 'full', mode = run.checkpoint ?? 'none';
  // full checkpointing drops the blocks' LayerNorm statistics (only lnF's remain); under PEFT block 0's ln1 records nothing
  const lnCount = mode === 'full' ? 1 : 2 * L + 1 - (peft ? 1 : 0);
  const corrections: Correction[] = [
    { what: `LayerNorm mean and rstd (${lnCount} LayerNorm${lnCount > 1 ? 's' : ''} × 2 × N floats)`, bytes: lnCount * 2 * N * e, why: 'the LayerNorm op keeps its per-row statistics for backward; Korthikanti et al. count only its input' },
  ];
  if (peft && mode === 'none') {
    corrections.push({ what: 'block 0 attention LN input', bytes: -N * d * e, why: 'embeddings and LayerNorm weights are frozen, so nothing before block 0 needs a gradient and its first LayerNorm records nothing' });
  } else if (!peft) {
    corrections.push({ what: 'token indices (int32 [b, s])', bytes: N * 4, why: 'the trained embedding table needs them for its scatter-add backward' });
  }
  corrections.push({ what: 'final LayerNorm input', bytes: N * d * e, why: 'outside the layers: lnF before the output head' });
  if (!peft) corrections.push({ what: 'output head input', bytes: N * d * e, why: 'the trained head needs its input for ∂W (frozen under PEFT: nothing kept)' });
  corrections.push({ what: 'cross entropy: logits, logsumexp, targets, count', bytes: (N * cfg.vocab + 2 * N + 1) * e, why: 'outside the layers: the loss keeps logits [N, V], lse [N], int32 targets [N] and the token count' });
  const masks = layerActivations(tcfg, method, shape).kept.filter((i) => i.name.endsWith('mask'));
  if (masks.length) {
    corrections.push({ what: 'dropout masks', bytes: -L * masks.reduce((n, i) => n + i.bytes, 0), why: 'our dropout regenerates its mask from (seed, offset) in backward and stores no mask' });
  }
  return { analytic, corrections, expected: analytic + corrections.reduce((n, c) => n + c.bytes, 0) };
}
