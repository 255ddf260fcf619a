/**
 * Naive reference implementations on plain arrays, written independently of the engine: one
 * loop over output elements, index arithmetic by hand. Slow and obvious on purpose — tests
 * compare the engine's kernels against these.
 */

/** A row-major n-d array of numbers. */
export interface Nd {
  shape: number[];
  data: number[];
}

export function nd(shape: readonly number[], data: ArrayLike<number>): Nd {
  return { shape: [...shape], data: Array.from(data) };
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Multi-index of flat position i in shape. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    idx[a] = i % shape[a]!;
    i = Math.floor(i / shape[a]!);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let f = 0;
  for (let a = 0; a < shape.length; a++) f = f * shape[a]! + idx[a]!;
  return f;
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1, db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`reference: cannot broadcast ${a} and ${b}`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Value of x at the output multi-index idx, under numpy broadcasting. */
function atBroadcast(x: Nd, idx: readonly number[]): number {
  const lead = idx.length - x.shape.length;
  let f = 0;
  for (let a = 0; a < x.shape.length; a++) f = f * x.shape[a]! + (x.shape[a] === 1 ? 0 : idx[a + lead]!);
  return x.data[f]!;
}

export function map(x: Nd, f: (v: number) => number): Nd {
  return nd(x.shape, x.data.map(f));
}

export function zip(a: Nd, b: Nd, f: (x: number, y: number) => number): Nd {
  const shape = broadcastShape(a.shape, b.shape);
  const data: number[] = [];
  for (let i = 0; i < size(shape); i++) {
    const idx = unravel(i, shape);
    data.push(f(atBroadcast(a, idx), atBroadcast(b, idx)));
  }
  return nd(shape, data);
}

export function where(c: Nd, a: Nd, b: Nd): Nd {
  const shape = broadcastShape(broadcastShape(c.shape, a.shape), b.shape);
  const data: number[] = [];
  for (let i = 0; i < size(shape); i++) {
    const idx = unravel(i, shape);
    data.push(atBroadcast(c, idx) !== 0 ? atBroadcast(a, idx) : atBroadcast(b, idx));
  }
  return nd(shape, data);
}

export function expand(x: Nd, shape: readonly number[]): Nd {
  const data: number[] = [];
  for (let i = 0; i < size(shape); i++) data.push(atBroadcast(x, unravel(i, shape)));
  return nd(shape, data);
}

/** Reduction over axes (all when undefined) with a fold; keepdim keeps them as 1. */
export function reduce(x: Nd, axes: readonly number[] | undefined, keepdim: boolean, init: number, f: (acc: number, v: number) => number): Nd {
  const ax = (axes ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + x.shape.length : a));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const acc = new Array<number>(size(kept)).fill(init);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape).map((v, a) => (ax.includes(a) ? 0 : v));
    const o = ravel(idx, kept);
    acc[o] = f(acc[o]!, x.data[i]!);
  }
  return nd(keepdim ? kept : kept.filter((_, i) => !ax.includes(i)), acc);
}

export function permute(x: Nd, dims: readonly number[]): Nd {
  const shape = dims.map((d) => x.shape[d]!);
  const data: number[] = [];
  for (let i = 0; i < size(shape); i++) {
    const idx = unravel(i, shape);
    const src = new Array<number>(x.shape.length);
    dims.forEach((d, k) => (src[d] = idx[k]!));
    data.push(x.data[ravel(src, x.shape)]!);
  }
  return nd(shape, data);
}

export function slice(x: Nd, axis: number, start: number, end: number): Nd {
  const shape = [...x.shape];
  shape[axis] = end - start;
  const data: number[] = [];
  for (let i = 0; i < size(shape); i++) {
    const idx = unravel(i, shape);
    idx[axis]! += start;
    data.push(x.data[ravel(idx, x.shape)]!);
  }
  return nd(shape, data);
}

export function concat(xs: readonly Nd[], axis: number): Nd {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((a, x) => a + x.shape[axis]!, 0);
  const data: number[] = [];
  for (let i = 0; i < size(shape); i++) {
    const idx = unravel(i, shape);
    let k = 0;
    while (idx[axis]! >= xs[k]!.shape[axis]!) idx[axis]! -= xs[k++]!.shape[axis]!;
    data.push(xs[k]!.data[ravel(idx, xs[k]!.shape)]!);
  }
  return nd(shape, data);
}

/** op(a)·op(b) with numpy batch broadcasting; op transposes the last two axes when flagged. */
export function matmul(a: Nd, b: Nd, transA = false, transB = false): Nd {
  const ta = transA ? permute(a, swapLast(a.shape.length)) : a;
  const tb = transB ? permute(b, swapLast(b.shape.length)) : b;
  const [m, k] = ta.shape.slice(-2) as [number, number];
  const n = tb.shape[tb.shape.length - 1]!;
  const batch = broadcastShape(ta.shape.slice(0, -2), tb.shape.slice(0, -2));
  const shape = [...batch, m, n];
  const data: number[] = [];
  for (let o = 0; o < size(shape); o++) {
    const idx = unravel(o, shape);
    const bi = idx.slice(0, -2), i = idx[idx.length - 2]!, j = idx[idx.length - 1]!;
    let s = 0;
    for (let l = 0; l < k; l++) s += atBroadcast(ta, [...bi, i, l]) * atBroadcast(tb, [...bi, l, j]);
    data.push(s);
  }
  return nd(shape, data);
}

function swapLast(rank: number): number[] {
  const d = [...Array(rank).keys()];
  [d[rank - 2], d[rank - 1]] = [d[rank - 1]!, d[rank - 2]!];
  return d;
}

/** softmax (or log-softmax) along axis: exp(xᵢ − max)/Σ exp(xⱼ − max). */
export function softmax(x: Nd, axis: number, log = false): Nd {
  const ax = axis < 0 ? axis + x.shape.length : axis;
  const out = new Array<number>(x.data.length);
  const st = strides(x.shape), n = x.shape[ax]!;
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    if (idx[ax] !== 0) continue; // visit each line along axis once, from its first element
    const line = Array.from({ length: n }, (_, j) => i + j * st[ax]!);
    const m = Math.max(...line.map((p) => x.data[p]!));
    const z = line.reduce((s, p) => s + Math.exp(x.data[p]! - m), 0);
    for (const p of line) out[p] = log ? x.data[p]! - m - Math.log(z) : Math.exp(x.data[p]! - m) / z;
  }
  return nd(x.shape, out);
}

/** (x − μ)/√(σ² + eps)·γ + β over the last axis, biased variance. */
export function layerNorm(x: Nd, gamma: number[] | null, beta: number[] | null, eps: number): Nd {
  const cols = x.shape[x.shape.length - 1]!;
  const out: number[] = [];
  for (let r = 0; r < x.data.length / cols; r++) {
    const row = x.data.slice(r * cols, (r + 1) * cols);
    const mu = row.reduce((a, b) => a + b, 0) / cols;
    const v = row.reduce((a, b) => a + (b - mu) ** 2, 0) / cols;
    row.forEach((xv, c) => out.push(((xv - mu) / Math.sqrt(v + eps)) * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0)));
  }
  return nd(x.shape, out);
}

/** Mean over non-ignored rows of −log softmax(z)[t] = (m − z[t]) + ln Σ exp(z − m), m = max z. */
export function crossEntropy(logits: Nd, targets: readonly number[], ignoreIndex: number): number {
  const C = logits.shape[1]!;
  let total = 0, count = 0;
  targets.forEach((t, r) => {
    if (t === ignoreIndex) return;
    const row = logits.data.slice(r * C, (r + 1) * C);
    const m = Math.max(...row);
    total += m - row[t]! + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    count++;
  });
  return total / count;
}

/** erf by composite Simpson's rule on 2/√π·e^(−t²) (independent of the engine's series). */
export function erf(x: number): number {
  const n = 2000, h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}

export const unaryRef: Record<string, (x: number, p?: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => (x > 0 ? x : 0),
  gelu: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  geluErf: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  silu: (x) => x / (1 + Math.exp(-x)),
  pow: (x, p = 1) => x ** p,
};

/**
 * X [n, k] with M·X = b for a small non-singular M [n, n] (row-major arrays), by Gauss–Jordan
 * elimination: independent of the engine's Cholesky solves.
 */
export function gaussJordan(M: readonly number[], n: number, b: readonly number[], k: number): number[] {
  const m = [...M], x = [...b];
  for (let c = 0; c < n; c++) {
    const piv = m[c * n + c]!;
    for (let j = 0; j < n; j++) m[c * n + j]! /= piv;
    for (let j = 0; j < k; j++) x[c * k + j]! /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c]!;
      for (let j = 0; j < n; j++) m[r * n + j]! -= f * m[c * n + j]!;
      for (let j = 0; j < k; j++) x[r * k + j]! -= f * x[c * k + j]!;
    }
  }
  return x;
}
