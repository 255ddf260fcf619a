import { autocast, type AutocastDtype } from '../autograd/autocast.ts';
import { recomputeAttentionScores, recomputeEverything, selectiveCheckpoint } from '../autograd/checkpoint.ts';
import { add } from '../autograd/ops/elementwise.ts';
import { crossEntropy, dropout } from '../autograd/ops/nn.ts';
import { reshape, slice } from '../autograd/ops/shape.ts';
import { describe, describeValue, fail } from '../errors.ts';
import { checkPositiveInt } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { CausalSelfAttention } from './attention.ts';
import { Embedding, LayerNorm, MLP, pipe, Sequential, subSeed, type LayerOptions } from './layers.ts';
import { Linear } from './linear.ts';
import { Module } from './module.ts';

/**
 * Activation checkpointing of a block (src/autograd/checkpoint.ts): 'none' keeps everything its ops
 * save; 'full' keeps only the block's input and recomputes the rest in backward; 'selective' also
 * keeps every save but the attention scores' b·h·s² tensors (softmax output, its dropout).
 */
export type BlockCheckpoint = 'none' | 'full' | 'selective';
export const BLOCK_CHECKPOINTS: readonly BlockCheckpoint[] = ['none', 'full', 'selective'];

function checkCheckpointMode(op: string, mode: unknown): void {
  if (!BLOCK_CHECKPOINTS.includes(mode as BlockCheckpoint)) fail(op, `checkpoint is ${describeValue(mode)}; expected one of ${BLOCK_CHECKPOINTS.join(', ')}`);
}

/** Pre-LN block: x + attn(ln1(x)), then + mlp(ln2(·)). Children ln1, attn, ln2, mlp. */
export class Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: CausalSelfAttention;
  readonly ln2: LayerNorm;
  readonly mlp: MLP;
  /** How much of the block's saved activations backward recomputes instead of keeping (settable at any time). */
  checkpoint: BlockCheckpoint;

  constructor(dim: number, heads: number, context: number, options: LayerOptions & { hidden?: number; dropout?: number; checkpoint?: BlockCheckpoint } = {}) {
    super();
    this.checkpoint = options.checkpoint ?? 'none';
    checkCheckpointMode('Block', this.checkpoint);
    const p = options.dropout ?? 0;
    const opt = { dtype: options.dtype, device: options.device };
    this.ln1 = this.registerModule('ln1', new LayerNorm(dim, opt));
    this.attn = this.registerModule('attn', new CausalSelfAttention(dim, heads, context, p, { ...opt, seed: subSeed(options.seed, 0) }));
    this.ln2 = this.registerModule('ln2', new LayerNorm(dim, opt));
    this.mlp = this.registerModule('mlp', new MLP(dim, options.hidden ?? 4 * dim, p, { ...opt, seed: subSeed(options.seed, 1) }));
  }

  forward(x: Tensor): Tensor {
    if (this.checkpoint === 'none') return this.residuals(x);
    checkCheckpointMode('Block', this.checkpoint);
    const policy = this.checkpoint === 'full' ? recomputeEverything : recomputeAttentionScores;
    return selectiveCheckpoint(policy, (t: Tensor) => this.residuals(t), x);
  }

  private residuals(x: Tensor): Tensor {
    const a = pipe(this.ln1.forward(x), (t) => this.attn.forward(t));
    const h = add(x, a);
    a.dispose();
    const m = pipe(this.ln2.forward(h), (t) => this.mlp.forward(t));
    const out = add(h, m);
    h.dispose();
    m.dispose();
    return out;
  }
}

/** A tiny character-level GPT: V tokens, width d, h heads, L blocks, context s (MLP width 4d). */
export interface GptConfig {
  vocab: number;
  dim: number;
  heads: number;
  layers: number;
  context: number;
  /** Dropout on attention probabilities and residual branches (0 by default). */
  dropout?: number;
}

/**
 * logits = head(lnF(blocks(tok[idx] + pos[0:s]))): idx int32 [b, s] → [b, s, V].
 * Children tok, pos, blocks (blocks.0, blocks.1, ...), lnF, head (no bias).
 */
export class GPT extends Module {
  readonly tok: Embedding;
  readonly pos: Embedding;
  readonly blocks: Sequential<Block>;
  readonly lnF: LayerNorm;
  readonly head: Linear;
  /**
   * Mixed precision of forward and loss: null (default) runs every op in the weights' dtype; a
   * 16-bit dtype runs them under autocast(dtype) (src/autograd/autocast.ts: matmuls in 16 bits,
   * softmax, LayerNorm and the loss in float32; weights and gradients stay in their dtype).
   */
  autocast: AutocastDtype | null = null;

  constructor(readonly config: GptConfig, options: LayerOptions = {}) {
    super();
    if (config === null || typeof config !== 'object') fail('GPT', `config is ${describeValue(config)}; expected { vocab, dim, heads, layers, context }`);
    const { vocab, dim, heads, layers, context } = config;
    for (const [k, v] of Object.entries({ vocab, dim, heads, layers, context })) checkPositiveInt('GPT', `config.${k}`, v);
    const p = config.dropout ?? 0;
    if (!(typeof p === 'number' && p >= 0 && p < 1)) fail('GPT', `config.dropout is ${describeValue(p)}; expected 0 ≤ p < 1`);
    const opt = { dtype: options.dtype, device: options.device };
    this.tok = this.registerModule('tok', new Embedding(vocab, dim, { ...opt, seed: subSeed(options.seed, 0) }));
    this.pos = this.registerModule('pos', new Embedding(context, dim, { ...opt, seed: subSeed(options.seed, 1) }));
    const blocks = Array.from({ length: layers }, (_, i) =>
      new Block(dim, heads, context, { ...opt, dropout: config.dropout, seed: subSeed(options.seed, 10 + i) }));
    this.blocks = this.registerModule('blocks', new Sequential(blocks));
    this.lnF = this.registerModule('lnF', new LayerNorm(dim, opt));
    this.head = this.registerModule('head', new Linear(dim, vocab, { ...opt, bias: false, seed: subSeed(options.seed, 2) }));
  }

  forward(idx: Tensor): Tensor {
    return this.autocast ? autocast(this.autocast, () => this.logits(idx)) : this.logits(idx);
  }

  private logits(idx: Tensor): Tensor {
    if (idx.rank !== 2 || idx.dtype !== 'int32' || idx.shape[1]! > this.config.context) {
      fail('GPT', `${describe('idx', idx)} does not fit; expected int32 [batch, seq ≤ ${this.config.context}]`);
    }
    const tok = this.tok.forward(idx), pos = slice(this.pos.weight, 0, 0, idx.shape[1]!);
    const x = add(tok, pos); // [b, s, d] + [s, d]
    tok.dispose();
    pos.dispose();
    return pipe(x, (t) => dropout(t, this.config.dropout ?? 0, { training: this.training }),
      (t) => this.blocks.forward(t), (t) => this.lnF.forward(t), (t) => this.head.forward(t));
  }

  /** Sets every block's activation checkpointing ('none', 'full' or 'selective'). */
  setCheckpointing(mode: BlockCheckpoint): this {
    checkCheckpointMode('GPT', mode);
    for (let i = 0; i < this.blocks.length; i++) this.blocks[i]!.checkpoint = mode;
    return this;
  }

  /** Mean next-token cross entropy of idx [b, s] against targets [b, s] (int32). */
  loss(idx: Tensor, targets: Tensor): Tensor {
    return this.autocast ? autocast(this.autocast, () => this.meanLoss(idx, targets)) : this.meanLoss(idx, targets);
  }

  private meanLoss(idx: Tensor, targets: Tensor): Tensor {
    const logits = pipe(this.logits(idx), (t) => reshape(t, [idx.size, this.config.vocab]));
    const flat = reshape(targets, [targets.size]);
    const loss = crossEntropy(logits, flat);
    logits.dispose();
    flat.dispose();
    return loss;
  }
}
