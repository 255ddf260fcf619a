import { mul } from '../autograd/ops/elementwise.ts';
import { matmul } from '../autograd/ops/matmul.ts';
import { dropout, softmax } from '../autograd/ops/nn.ts';
import { maskedFill } from '../autograd/ops/select.ts';
import { permute, reshape, slice } from '../autograd/ops/shape.ts';
import { noGrad } from '../autograd/grad-mode.ts';
import { scope } from '../autograd/scope.ts';
import { describe, fail } from '../errors.ts';
import { full, tensor } from '../factories.ts';
import { checkPositiveInt } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { pipe, subSeed, type LayerOptions } from './layers.ts';
import { Linear } from './linear.ts';
import { Module } from './module.ts';

/** Added to masked scores before softmax: finite (WGSL has no guaranteed ∞), exp underflows to exactly 0. */
const MASKED = -1e9;

/**
 * Causal multi-head self-attention, x [b, s, d] → [b, s, d] with h heads of width dh = d/h:
 *   Q = x·Wq, K = x·Wk, V = x·Wv (each [b, s, d] → [b, h, s, dh]),
 *   P = softmax(Q·Kᵀ/√dh + M) with M = −∞ above the diagonal ([b, h, s, s]),
 *   y = concat_heads(dropout(P)·V)·Wo.
 * The projections are separate Linear children q, k, v, o, so adapters can target each.
 * Saves (float32, no dropout): x once for q, k, v (one storage, deduplicated), Q and K for
 * QKᵀ, P for softmax's backward and P·V (one storage), V, and o's input — the Q/K/V and
 * softmax columns of Korthikanti et al.; the mask and 1/√dh are buffers and cost nothing.
 */
export class CausalSelfAttention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly headDim: number;
  private readonly mask: Tensor;
  private readonly scale: Tensor;

  constructor(readonly dim: number, readonly heads: number, readonly context: number, readonly dropout = 0, options: LayerOptions = {}) {
    super();
    for (const [name, v] of [['dim', dim], ['heads', heads], ['context', context]] as const) checkPositiveInt('CausalSelfAttention', name, v);
    if (!Number.isInteger(dim / heads)) fail('CausalSelfAttention', `width ${dim} is not divisible by ${heads} heads`);
    this.headDim = dim / heads;
    const opt = (k: number) => ({ ...options, seed: subSeed(options.seed, k) });
    this.q = this.registerModule('q', new Linear(dim, dim, opt(0)));
    this.k = this.registerModule('k', new Linear(dim, dim, opt(1)));
    this.v = this.registerModule('v', new Linear(dim, dim, opt(2)));
    this.o = this.registerModule('o', new Linear(dim, dim, opt(3)));
    const upper = new Float32Array(context * context); // 1 where key j > query i
    for (let i = 0; i < context; i++) for (let j = i + 1; j < context; j++) upper[i * context + j] = 1;
    this.mask = this.registerBuffer('mask', tensor(upper, { shape: [context, context], dtype: options.dtype, device: options.device }), { persistent: false });
    this.scale = this.registerBuffer('scale', full([], 1 / Math.sqrt(this.headDim), { dtype: options.dtype, device: options.device }), { persistent: false });
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim || x.shape[1]! > this.context) {
      fail('CausalSelfAttention', `${describe('x', x)} does not fit; expected [batch, seq ≤ ${this.context}, ${this.dim}]`);
    }
    const [b, s] = x.shape as [number, number, number];
    const heads = (t: Tensor) => pipe(t, (u) => reshape(u, [b, s, this.heads, this.headDim]), (u) => permute(u, [0, 2, 1, 3])); // [b, h, s, dh]
    const q = heads(this.q.forward(x)), k = heads(this.k.forward(x)), v = heads(this.v.forward(x));
    const mask = this.causalMask(s);
    const probs = pipe(matmul(q, k, { transB: true }), // [b, h, s, s]
      (t) => mul(t, this.scale), (t) => maskedFill(t, mask, MASKED), (t) => softmax(t), (t) => dropout(t, this.dropout, { training: this.training }));
    if (mask !== this.mask) mask.dispose();
    const out = pipe(matmul(probs, v), (t) => permute(t, [0, 2, 1, 3]), (t) => reshape(t, [b, s, this.dim])); // heads side by side
    for (const t of [q, k, v, probs]) t.dispose(); // autograd keeps what it saved
    return pipe(out, (y) => this.o.forward(y), (y) => dropout(y, this.dropout, { training: this.training }));
  }

  /** The [s, s] corner of the mask, a constant (no activation bytes when saved). */
  private causalMask(s: number): Tensor {
    if (s === this.context) return this.mask;
    const m = noGrad(() => scope(() => slice(slice(this.mask, 0, 0, s), 1, 0, s)));
    m.isParameter = true;
    return m;
  }
}
