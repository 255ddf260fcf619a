import { describe, fail } from '../../errors.ts';
import { checkSeed, nextRandomState } from '../../random.ts';
import { checkValues, flattenNested, formatPosition, normalizeAxis } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { isTensor, newTensor } from '../tensor-class.ts';
import { Function, type Context } from '../function.ts';
import { div } from './elementwise.ts';
import { sum } from './reduce.ts';
import { reshape, transpose } from './shape.ts';
import { checkFloat, wrap } from './util.ts';
import { autocastOp } from '../autocast.ts';

/** Rows and columns of x seen as [rows, last axis]. */
function rowsCols(x: Tensor): [number, number] {
  const cols = x.rank === 0 ? 1 : x.shape[x.rank - 1]!;
  return [cols === 0 ? 0 : x.size / cols, cols];
}

/**
 * Forward: y = softmax (or log-softmax) over the last axis, shifted by the row max.
 * Backward: softmax dx = y·(g − Σ g·y); log-softmax dx = g − softmax·Σ g.
 * Saves: y (the output; the input is not needed).
 */
class SoftmaxLast extends Function {
  static override readonly opName: string = 'softmax';
  static log = false;
  static override forward(ctx: Context<{ log: boolean }>, x: Tensor): Tensor {
    checkFloat(this.opName, x);
    const [rows, cols] = rowsCols(x);
    const y = wrap(x.backend.kernels.softmax(x.storage, rows, cols, this.log), x.shape);
    ctx.meta = { log: this.log };
    ctx.saveForBackward(y);
    return y;
  }
  static override backward(ctx: Context<{ log: boolean }>, g: Tensor) {
    const [y] = ctx.savedTensors as [Tensor];
    const [rows, cols] = rowsCols(y);
    return [wrap(g.backend.kernels.softmaxGrad(y.storage, g.storage, rows, cols, ctx.meta.log), y.shape)];
  }
}

class LogSoftmaxLast extends SoftmaxLast {
  static override readonly opName: string = 'logSoftmax';
  static override log = true;
}

/** Applies a last-axis op along any axis by swapping that axis to the end and back. */
function alongAxis(op: string, F: typeof SoftmaxLast, x: Tensor, axis: number): Tensor {
  const ax = normalizeAxis(op, axis, x.rank, x);
  if (ax === x.rank - 1 || x.rank === 0) return F.apply(x);
  const xt = transpose(x, ax, -1), yt = F.apply(xt);
  const y = transpose(yt, ax, -1);
  xt.dispose(); // the graph keeps what backward needs
  yt.dispose();
  return y;
}

export const softmax = (x: Tensor, axis = -1): Tensor => autocastOp('float32', [x], (cx) => alongAxis('softmax', SoftmaxLast, cx, axis));
export const logSoftmax = (x: Tensor, axis = -1): Tensor => autocastOp('float32', [x], (cx) => alongAxis('logSoftmax', LogSoftmaxLast, cx, axis));

/**
 * Forward: y = (x − μ)/√(σ² + eps)·γ + β over the last axis (biased variance).
 * Backward: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·γ; dγ = Σ g·x̂; dβ = Σ g (neither
 *           computed when γ and β are frozen).
 * Saves: when x or γ needs a gradient, x and the per-row mean and rstd ([rows] each), and γ
 * when x does (for ĝ); nothing when only β does (dβ = Σ g needs only g).
 */
export class LayerNorm extends Function {
  static override readonly opName = 'layerNorm';
  static override forward(ctx: Context<{ eps: number }>, x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps: number): Tensor {
    checkFloat(this.opName, x);
    const [rows, cols] = rowsCols(x);
    for (const [name, p] of [['gamma', gamma], ['beta', beta]] as const) {
      if (p && (p.rank !== 1 || p.shape[0] !== cols || p.dtype !== x.dtype)) {
        fail(this.opName, `${describe(name, p)} does not fit ${describe('x', x)}; expected shape [${cols}] and dtype ${x.dtype}`);
      }
    }
    const r = x.backend.kernels.layerNorm(x.storage, gamma?.storage ?? null, beta?.storage ?? null, rows, cols, eps);
    const mean = wrap(r.mean, [rows]), rstd = wrap(r.rstd, [rows]);
    ctx.meta = { eps };
    const [nx, ng] = ctx.needsInputGrad;
    if (nx || ng) ctx.saveForBackward(x, nx ? gamma : null, mean, rstd);
    mean.dispose();
    rstd.dispose();
    return wrap(r.y, x.shape);
  }
  static override backward(ctx: Context<{ eps: number }>, g: Tensor) {
    const [nx, ng, nb] = ctx.needsInputGrad;
    if (!nx && !ng) {
      const [rows, cols] = rowsCols(g);
      return [null, null, sum(reshape(g, [rows, cols]), 0), null];
    }
    const [x, gamma, mean, rstd] = ctx.savedTensors as [Tensor, Tensor | null, Tensor, Tensor];
    const [rows, cols] = rowsCols(x);
    // without γ (only dγ needed) the kernel's dx is not the true one, and is dropped
    const r = g.backend.kernels.layerNormGrad(x.storage, gamma?.storage ?? null, mean.storage, rstd.storage, g.storage, rows, cols, ng || nb);
    const gradX = wrap(r.gradX, x.shape);
    const gradGamma = r.gradGamma && wrap(r.gradGamma, [cols]), gradBeta = r.gradBeta && wrap(r.gradBeta, [cols]);
    return [nx ? gradX : null, ng ? gradGamma : null, nb ? gradBeta : null, null];
  }
}

export function layerNorm(x: Tensor, gamma: Tensor | null = null, beta: Tensor | null = null, eps = 1e-5): Tensor {
  return autocastOp('float32', [x, gamma, beta], (cx, cg, cb) => LayerNorm.apply(cx, cg, cb, eps));
}

interface CrossEntropyMeta {
  ignoreIndex: number;
}

/**
 * Forward: loss = mean over non-ignored rows of (logsumexp(zᵢ) − zᵢ[tᵢ]), logits z [N, C],
 *          int32 targets t [N] (NaN when every row is ignored, as PyTorch). A target outside
 *          [0, C) that is not the ignore index is an error where the targets are readable
 *          synchronously (CPU), a NaN loss elsewhere.
 * Backward: dz = (softmax(z) − onehot(t))·g/count on non-ignored rows, 0 on ignored ones.
 * Saves: logits, the per-row logsumexp [N], the targets [N] and the count (1 element).
 */
export class CrossEntropy extends Function {
  static override readonly opName = 'crossEntropy';
  static override forward(ctx: Context<CrossEntropyMeta>, logits: Tensor, targets: Tensor, ignoreIndex: number): Tensor {
    checkFloat(this.opName, logits);
    if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== logits.shape[0] || targets.dtype !== 'int32') {
      fail(this.opName, `${describe('logits', logits)} and ${describe('targets', targets)} do not fit; expected logits [N, C] and int32 targets [N]`);
    }
    const [rows, classes] = logits.shape as [number, number];
    const read = targets.backend.readSync;
    if (read) {
      // targets on the CPU are checked here; on the GPU an out-of-range target gives a NaN loss
      const data = read.call(targets.backend, targets.storage);
      const bad = data.findIndex((t) => t !== ignoreIndex && (t < 0 || t >= classes));
      if (bad >= 0) {
        fail(this.opName, `target ${data[bad]} at position ${bad} is out of range for ${describe('logits', logits)}; ` +
          `expected 0 ≤ target < C = ${classes}, or the ignore index ${ignoreIndex}`);
      }
    }
    const k = logits.backend.kernels;
    const r = k.crossEntropy(logits.storage, targets.storage, rows, classes, ignoreIndex);
    const losses = wrap(r.loss, [rows]), valid = wrap(r.valid, [rows]), lse = wrap(r.lse, [rows]);
    // 16-bit logits: the row losses are summed and divided in float32 (the kernel's valid and lse
    // are float32) and the mean rounded once to the logits' dtype
    const wide = losses.dtype === valid.dtype ? null : wrap(k.cast(r.loss, valid.dtype), [rows]);
    const count = sum(valid);
    const mean = div(sum(wide ?? losses), count);
    const loss = mean.dtype === logits.dtype ? mean : wrap(k.cast(mean.storage, logits.dtype), []);
    ctx.meta = { ignoreIndex };
    ctx.saveForBackward(logits, lse, targets, count);
    for (const t of [losses, valid, lse, count, wide]) t?.dispose();
    if (loss !== mean) mean.dispose();
    return loss;
  }
  static override backward(ctx: Context<CrossEntropyMeta>, g: Tensor) {
    const [logits, lse, targets, count] = ctx.savedTensors as Tensor[] as [Tensor, Tensor, Tensor, Tensor];
    const [rows, classes] = logits.shape as [number, number];
    const wide = g.dtype === count.dtype ? null : wrap(g.backend.kernels.cast(g.storage, count.dtype), g.shape);
    const scale = div(wide ?? g, count);
    wide?.dispose();
    return [wrap(g.backend.kernels.crossEntropyGrad(logits.storage, lse.storage, targets.storage, scale.storage, rows, classes, ctx.meta.ignoreIndex), logits.shape), null, null];
  }
}

/** Integer indices of any shape as numbers: a number (rank 0) or nested arrays. */
export type NestedIndices = number | readonly NestedIndices[];
/** Integer indices: an int32 tensor, an Int32Array, or nested arrays of numbers. */
export type Indices = Tensor | Int32Array | NestedIndices;

/** Indices given as numbers are uploaded as int32 on like's device (and disposed after run). */
function withIndices<T>(op: string, idx: Indices, like: Tensor, run: (indices: Tensor) => T): T {
  if (isTensor(idx)) {
    if (idx.dtype !== 'int32') fail(op, `${describe('indices', idx)} must be int32; expected an int32 tensor or an array of integers`);
    return run(idx);
  }
  const { shape, values } = idx instanceof Int32Array ? { shape: [idx.length], values: idx } : flattenNested(op, idx);
  const fraction = Array.prototype.findIndex.call(values, (v: number) => !Number.isInteger(v));
  if (fraction >= 0) fail(op, `index ${values[fraction]} at position ${formatPosition(fraction, shape)} is not an integer; expected integer indices`);
  checkValues(op, values, 'int32', shape, 'index');
  const t = newTensor(like.backend.upload(Int32Array.from(values)), shape);
  try {
    return run(t);
  } finally {
    t.dispose(); // an op that saved the indices holds its own reference
  }
}

export function crossEntropy(logits: Tensor, targets: Indices, options: { ignoreIndex?: number } = {}): Tensor {
  return autocastOp('float32', [logits], (cl) => withIndices('crossEntropy', targets, cl, (t) => CrossEntropy.apply(cl, t, options.ignoreIndex ?? -100)));
}

/**
 * Forward: y[..., :] = table[indices[...], :], table [V, D], int32 indices of any shape.
 * Backward: dtable = scatter-add of g's rows into [V, D].
 * Saves: the indices (int32; the table is not needed).
 */
export class Embedding extends Function {
  static override readonly opName = 'embedding';
  static override forward(ctx: Context<{ rows: number }>, table: Tensor, indices: Tensor): Tensor {
    checkFloat(this.opName, table);
    if (table.rank !== 2) fail(this.opName, `${describe('table', table)} must be [V, D]`);
    const [V, D] = table.shape as [number, number];
    const read = indices.backend.readSync;
    if (read) {
      // indices on the CPU are checked here; on the GPU an out-of-range index gives a zero row
      const data = read.call(indices.backend, indices.storage);
      const bad = data.findIndex((v) => v < 0 || v >= V);
      if (bad >= 0) fail(this.opName, `index ${data[bad]} at position ${formatPosition(bad, indices.shape)} is out of range for ${describe('table', table)}; expected 0 ≤ index < ${V}`);
    }
    ctx.meta = { rows: V };
    ctx.saveForBackward(indices);
    return wrap(table.backend.kernels.gatherRows(table.storage, indices.storage, indices.size, D), [...indices.shape, D]);
  }
  static override backward(ctx: Context<{ rows: number }>, g: Tensor) {
    const [indices] = ctx.savedTensors as [Tensor];
    const D = g.shape[g.rank - 1]!, V = ctx.meta.rows;
    return [wrap(g.backend.kernels.scatterAddRows(g.storage, indices.storage, indices.size, V, D), [V, D]), null];
  }
}

export function embedding(table: Tensor, indices: Indices): Tensor {
  return withIndices('embedding', indices, table, (i) => Embedding.apply(table, i));
}

interface DropoutMeta {
  p: number;
  seed: number;
  offset: number;
}

/**
 * Forward: y = x·m/(1 − p), m ~ Bernoulli(1 − p) drawn from Philox at (seed, offset).
 * Backward: dx = g·m/(1 − p), the same mask regenerated from (seed, offset).
 * Saves: nothing — only the seed and offset (O(1) bytes); the mask is never stored.
 */
export class Dropout extends Function {
  static override readonly opName = 'dropout';
  static override forward(ctx: Context<DropoutMeta>, x: Tensor, p: number, seed: number, offset: number): Tensor {
    checkFloat(this.opName, x);
    ctx.meta = { p, seed, offset };
    return wrap(x.backend.kernels.dropout(x.storage, p, seed, offset), x.shape);
  }
  static override backward(ctx: Context<DropoutMeta>, g: Tensor) {
    const { p, seed, offset } = ctx.meta;
    return [wrap(g.backend.kernels.dropout(g.storage, p, seed, offset), g.shape), null, null, null];
  }
}

export interface DropoutOptions {
  /** false (evaluation) returns x unchanged. */
  training?: boolean;
  /** A fixed seed (offset 0) instead of the global generator's next (seed, offset). */
  seed?: number;
}

/** Inverted dropout with drop probability p ∈ [0, 1). */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p < 1)) fail('dropout', `p = ${p} is out of range; expected 0 ≤ p < 1`);
  if (options.training === false || p === 0) return x;
  if (options.seed !== undefined) checkSeed('dropout', options.seed);
  const state = options.seed !== undefined ? { seed: options.seed, offset: 0 } : nextRandomState('uniform', x.size);
  return Dropout.apply(x, p, state.seed, state.offset);
}
