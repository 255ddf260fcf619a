/**
 * What the LoRA-family ops share: argument checks, option parsing, and small helpers over the
 * backend kernels. Shapes: x [..., d] seen as X [N, d]; W [d, o]; A [d, r]; B [r, o]; σ = α/r.
 */
import { checkLinear, given } from '../autograd/ops/linear.ts';
import { mm } from '../autograd/ops/matmul.ts';
import { reshaped, rows2d, view, wrap } from '../autograd/ops/util.ts';
import { describe, fail } from '../errors.ts';
import { checkSeed, nextRandomState } from '../random.ts';
import type { Tensor } from '../tensor.ts';

export interface LoraOptions {
  /** σ = α / r, the scale of the adapter path. */
  scale: number;
  /** Drop probability of the adapter's input, in [0, 1) (0: no dropout). */
  dropout?: number;
  /** A fixed dropout seed (offset 0) instead of the global generator's next (seed, offset). */
  seed?: number;
}

/** The bias option of ops.lora, loraFA, loraFB and loraPro: b [o] added to X·W by the same matmul (what the LoRA layers pass). */
export interface LoraBiasOption {
  /** b [o] (may need a gradient: Σ over rows of dY); null or absent: none. */
  bias?: Tensor | null;
}

export interface LoraFrozenOptions extends LoraOptions {
  /** 'closed-form' (default): the gradient of the trained factor is projected (Theorem 4.1 / A.1); 'none': the plain LoRA gradient. */
  correction?: 'closed-form' | 'none';
  /** λ ≥ 0: solve with (AᵀA + λI) (LoRA-FA) or (BBᵀ + λI) (LoRA-FB), as Hugging Face PEFT's optimizer does; default 0. */
  ridge?: number;
}

/** The parsed options every LoRA op carries into its context (dropout: the mask's (seed, offset)). */
export interface LoraConfig {
  scale: number;
  p: number;
  seed: number;
  offset: number;
  closedForm: boolean;
  ridge: number;
}

/**
 * Checks the options the ops and the LoRA layers share: dropout p in [0, 1), correction
 * 'closed-form' | 'none', ridge λ finite ≥ 0. Returns them with their defaults filled in.
 */
export function checkAdapterOptions(
  op: string,
  options: { dropout?: number; correction?: string; ridge?: number },
): { dropout: number; correction: 'closed-form' | 'none'; ridge: number } {
  const { dropout = 0, correction = 'closed-form', ridge = 0 } = options;
  if (!(dropout >= 0 && dropout < 1)) fail(op, `dropout = ${dropout} is out of range; expected 0 ≤ p < 1`);
  if (correction !== 'closed-form' && correction !== 'none') fail(op, `correction = '${String(correction)}' is unknown; expected 'closed-form' or 'none'`);
  if (!(Number.isFinite(ridge) && ridge >= 0)) fail(op, `ridge = ${ridge} is invalid; expected a finite λ ≥ 0`);
  return { dropout, correction, ridge };
}

/** Validates options and draws the dropout stream's (seed, offset) for x's N·d elements. */
export function parseOptions(op: string, x: Tensor, options: LoraFrozenOptions): LoraConfig {
  if (typeof options !== 'object' || options === null) fail(op, 'expected an options object { scale, ... }');
  const { scale } = options;
  if (!(typeof scale === 'number' && Number.isFinite(scale) && scale !== 0)) {
    fail(op, `scale = ${String(scale)} is invalid; expected a finite non-zero σ = α / r`);
  }
  const { dropout: p, correction, ridge } = checkAdapterOptions(op, options);
  return { scale, p, ...dropoutState(op, x, p, options.seed), closedForm: correction === 'closed-form', ridge };
}

/** The dropout mask's (seed, offset) for x's elements: a fixed seed at offset 0, or the global generator's next draw (none when p = 0). */
export function dropoutState(op: string, x: Tensor, p: number, seed: number | undefined): { seed: number; offset: number } {
  if (p === 0) return { seed: 0, offset: 0 };
  if (seed !== undefined) checkSeed(op, seed);
  return seed !== undefined ? { seed, offset: 0 } : nextRandomState('uniform', x.size);
}

/**
 * σ of an adapter of rank r with alpha α: α/r (LoRA), or α/√r with rsLoRA (Kalajdzievski 2023:
 * the scale that keeps a first step's expected update independent of r; PEFT's use_rslora).
 */
export function adapterScale(alpha: number, rank: number, rslora: boolean): number {
  return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
}

export interface Dims {
  N: number;
  d: number;
  o: number;
  r: number;
}

/** Checks x [..., d], W [d, o], A [d, r], B [r, o] with 1 ≤ r ≤ min(d, o): one float dtype. */
export function checkArgs(op: string, x: Tensor, W: Tensor, A: Tensor, B: Tensor): Dims {
  const named = [['x', x], ['W', W], ['A', A], ['B', B]] as const;
  const expected = 'x [..., d], W [d, o], A [d, r], B [r, o]';
  const { N, d, o } = checkLinear(op, x, W, named, expected);
  if (A.rank !== 2 || B.rank !== 2 || A.shape[0] !== d || B.shape[1] !== o || A.shape[1] !== B.shape[0]) {
    fail(op, `shapes do not fit: ${given(named)}; expected ${expected}`);
  }
  const r = A.shape[1]!;
  if (r < 1 || r > Math.min(d, o)) {
    fail(op, `rank r = ${r} (from ${describe('A', A)}) is out of range; expected 1 ≤ r ≤ min(d, o) = ${Math.min(d, o)}`);
  }
  return { N, d, o, r };
}

/** Throws unless each named tensor is frozen (requiresGrad false). */
export function checkFrozen(op: string, method: string, trained: string, tensors: [string, Tensor][]): void {
  for (const [name, t] of tensors) {
    if (t.requiresGrad) {
      fail(op, `${describe(name, t)} requires grad, but ${method} keeps ${tensors.map(([n]) => n).join(' and ')} frozen ` +
        `and trains only ${trained}; set ${name}.requiresGrad = false (or use ops.lora to train both factors)`);
    }
  }
}

/** s·t, a new tensor (s a uniform of the kernel). */
export function scaled(t: Tensor, s: number): Tensor {
  return wrap(t.backend.kernels.binaryScalar('mul', t.storage, s, false), t.shape);
}

/** a + s·b for a, b of one shape; disposes a and b. */
export function addScaledInto(a: Tensor, s: number, b: Tensor): Tensor {
  const sb = s === 1 ? b : scaled(b, s);
  const out = wrap(a.backend.kernels.binary('add', a.storage, a.shape, sb.storage, sb.shape, a.shape), a.shape);
  for (const t of new Set([a, b, sb])) t.dispose();
  return out;
}

/**
 * The dropout of the adapter input, mask from (cfg.seed, cfg.offset): the same call on a
 * gradient of x's shape is its backward. Returns a new handle (a view of t when p = 0).
 */
export function adapterDropout(t: Tensor, cfg: LoraConfig): Tensor {
  if (cfg.p === 0) return view(t, t.shape);
  return wrap(t.backend.kernels.dropout(t.storage, cfg.p, cfg.seed, cfg.offset), t.shape);
}

/** L⁻ᵀL⁻¹·rhs [r, cols] through the cholSolve kernel (L may be float64 while rhs is float32). */
export function cholSolve(L: Tensor, rhs: Tensor): Tensor {
  const [r, cols] = rhs.shape as [number, number];
  return wrap(rhs.backend.kernels.cholSolve(L.storage, rhs.storage, r, cols), [r, cols]);
}

/** t [R, c] with column j multiplied by v[j] (v [c], broadcast over rows): t·diag(v), a new tensor. */
export function scaleColumns(t: Tensor, v: Tensor): Tensor {
  return wrap(t.backend.kernels.binary('mul', t.storage, t.shape, v.storage, v.shape, t.shape), t.shape);
}

/** The bias gradient Σ over rows of dY [N, o] → [o] where b needs one, else null. */
export function biasGrad(dY: Tensor, needed: boolean | undefined): Tensor | null {
  return needed ? columnSums(dY) : null;
}

/** Σ over rows of t [R, c] → [c]. */
export function columnSums(t: Tensor): Tensor {
  const [R, c] = t.shape as [number, number];
  return wrap(t.backend.kernels.reduce('sum', t.storage, 1, R, c), [c]);
}

/** a ⊙ b elementwise for tensors of one shape, a new tensor. */
export function hadamard(a: Tensor, b: Tensor): Tensor {
  return wrap(a.backend.kernels.binary('mul', a.storage, a.shape, b.storage, b.shape, a.shape), a.shape);
}

/** t [a, b] transposed into a new contiguous [b, a]. */
export function transposed(t: Tensor): Tensor {
  const [a, b] = t.shape as [number, number];
  return wrap(t.backend.kernels.gatherStrided(t.storage, { shape: [b, a], strides: [1, b], offset: 0 }), [b, a]);
}

/** Checks the bias option: null, or b [o] of x's dtype. */
export function checkBias(op: string, bias: Tensor | null, x: Tensor, W: Tensor): void {
  const o = W.shape[1]!;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== o || bias.dtype !== x.dtype)) {
    fail(op, `${describe('bias', bias)} does not fit ${describe('W', W)}; expected shape [${o}] and dtype ${x.dtype}`);
  }
}

/**
 * X [N, d], XA = X̃·A [N, r] and Y = X·W + b + σ·XA·B [N, o] (the shared forward): three products,
 * b added by the second's epilogue, σ and the sum by the last one's. The caller disposes X and XA.
 */
export function loraForward(x: Tensor, W: Tensor, A: Tensor, B: Tensor, cfg: LoraConfig, d: number, bias: Tensor | null): { X: Tensor; XA: Tensor; Y: Tensor } {
  const X = rows2d(x, d);
  const Xd = adapterDropout(X, cfg);
  const XA = mm(Xd, A); // computed once: it feeds both Y and (for LoRA-FA) the saved activation
  Xd.dispose();
  const XW = mm(X, W, false, false, { bias });
  const Y = mm(XA, B, false, false, { alpha: cfg.scale, c: XW });
  XW.dispose();
  return { X, XA, Y };
}

/**
 * gradX = dY·Wᵀ + σ·drop((dY·Bᵀ)·Aᵀ) [N, d], viewed as x's shape. Needs only weights — never a
 * saved activation. dYBt = dY·Bᵀ [N, r] may be passed when already computed. σ and the sum are
 * matmul epilogues: without dropout, three products; with it, the dropout between.
 */
export function inputGrad(g: Tensor, W: Tensor, A: Tensor, B: Tensor, cfg: LoraConfig, xShape: readonly number[], dYBt?: Tensor): Tensor {
  const t = dYBt ?? mm(g, B, false, true); //           [N, r]
  let gradX: Tensor;
  if (cfg.p === 0) {
    const direct = mm(g, W, false, true); //             dY·Wᵀ  [N, d]
    gradX = mm(t, A, false, true, { alpha: cfg.scale, c: direct });
    direct.dispose();
  } else {
    const adapter = mm(t, A, false, true, { alpha: cfg.scale }); // σ·(dY·Bᵀ)·Aᵀ  [N, d]
    const dropped = adapterDropout(adapter, cfg);
    adapter.dispose();
    gradX = mm(g, W, false, true, { c: dropped });
    dropped.dispose();
  }
  if (!dYBt) t.dispose();
  return reshaped(gradX, xShape);
}
