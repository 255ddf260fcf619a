import type { NnKernels } from '../../backend.ts';
import type { TypedArray } from '../../../dtype.ts';
import { like, type FloatArray } from '../float-array.ts';
import { elements, floats, ints, type Cpu } from './cpu.ts';

/** Row-wise softmax or log-softmax of x [rows, cols], shifted by the row max for stability. */
export function softmax(x: FloatArray, rows: number, cols: number, log: boolean): FloatArray {
  const y = like(x);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x[base + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(x[base + c]! - max);
    if (log) {
      // (x − max) − log Σ, not x − (max + log Σ): adding log Σ to a large max would round it away
      const logSum = Math.log(sum);
      for (let c = 0; c < cols; c++) y[base + c] = x[base + c]! - max - logSum;
    } else {
      for (let c = 0; c < cols; c++) y[base + c] = Math.exp(x[base + c]! - max) / sum;
    }
  }
  return y;
}

/** softmax: dx = y·(g − Σ g·y); log-softmax: dx = g − exp(y)·Σ g. */
export function softmaxGrad(y: FloatArray, g: FloatArray, rows: number, cols: number, log: boolean): FloatArray {
  const dx = like(y);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let dot = 0;
    if (log) for (let c = 0; c < cols; c++) dot += g[base + c]!;
    else for (let c = 0; c < cols; c++) dot += g[base + c]! * y[base + c]!;
    if (log) for (let c = 0; c < cols; c++) dx[base + c] = g[base + c]! - Math.exp(y[base + c]!) * dot;
    else for (let c = 0; c < cols; c++) dx[base + c] = y[base + c]! * (g[base + c]! - dot);
  }
  return dx;
}

/** y = (x − μ)·rstd·γ + β per row, rstd = 1/√(var + eps) with the biased variance. */
export function layerNorm(x: FloatArray, gamma: FloatArray | null, beta: FloatArray | null, rows: number, cols: number, eps: number) {
  const y = like(x), mean = like(x, rows), rstd = like(x, rows);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let mu = 0;
    for (let c = 0; c < cols; c++) mu += x[base + c]!;
    mu /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[base + c]! - mu) ** 2;
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) {
      const xhat = (x[base + c]! - mu) * rs;
      y[base + c] = xhat * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0);
    }
  }
  return { y, mean, rstd };
}

/**
 * With x̂ = (x − μ)·rstd and ĝ = g·γ:
 *   dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)),  dγ = Σ_rows g·x̂,  dβ = Σ_rows g.
 */
export function layerNormGrad(x: FloatArray, gamma: FloatArray | null, mean: FloatArray, rstd: FloatArray, g: FloatArray, rows: number, cols: number, affine: boolean) {
  const gradX = like(x), gGamma = new Float64Array(affine ? cols : 0), gBeta = new Float64Array(affine ? cols : 0);
  for (let r = 0; r < rows; r++) {
    const base = r * cols, mu = mean[r]!, rs = rstd[r]!;
    let sumG = 0, sumGX = 0;
    for (let c = 0; c < cols; c++) {
      const xhat = (x[base + c]! - mu) * rs;
      const gh = g[base + c]! * (gamma ? gamma[c]! : 1);
      sumG += gh;
      sumGX += gh * xhat;
      if (affine) {
        gGamma[c]! += g[base + c]! * xhat;
        gBeta[c]! += g[base + c]!;
      }
    }
    for (let c = 0; c < cols; c++) {
      const xhat = (x[base + c]! - mu) * rs;
      const gh = g[base + c]! * (gamma ? gamma[c]! : 1);
      gradX[base + c] = rs * (gh - sumG / cols - xhat * (sumGX / cols));
    }
  }
  if (!affine) return { gradX, gradGamma: null, gradBeta: null };
  const gradGamma = like(x, cols), gradBeta = like(x, cols);
  gradGamma.set(gGamma);
  gradBeta.set(gBeta);
  return { gradX, gradGamma, gradBeta };
}

/**
 * Per row: m = max z, s = Σ exp(z − m), lse = m + ln s (stored in the logits' dtype, for the
 * gradient), loss = (m − z[t]) + ln s, valid = 1; an ignored row has loss = valid = 0, a target
 * outside [0, classes) loss NaN. Not lse − z[t]: in float32, m + ln s keeps ln s only to a
 * multiple of ulp(m) (at m = 1e5, 0.0078), which lse − z[t] would carry into an O(1) loss.
 */
export function crossEntropy(logits: FloatArray, targets: Int32Array, rows: number, classes: number, ignoreIndex: number) {
  const loss = like(logits, rows), lse = like(logits, rows), valid = like(logits, rows);
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[base + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[base + c]! - max);
    const logSum = Math.log(sum);
    lse[r] = max + logSum;
    const t = targets[r]!;
    if (t === ignoreIndex) continue;
    valid[r] = 1;
    loss[r] = t >= 0 && t < classes ? max - logits[base + t]! + logSum : NaN;
  }
  return { loss, lse, valid };
}

/**
 * dz = (p − onehot(t))·scale[0] on valid rows, 0 on ignored ones, with p = e/Σe, e = exp(z − lse).
 * z − lse loses nothing in float64, but lse holds m + ln s rounded to the logits' dtype, off by
 * some δ with |δ| ≤ ½ulp(lse) (0.004 at |z| = 1e5 in float32), so e alone would be off by the
 * factor e^(−δ) (0.4%); that factor is the same across the row, and dividing by Σe removes it.
 */
export function crossEntropyGrad(logits: FloatArray, lse: FloatArray, targets: Int32Array, scale: FloatArray, rows: number, classes: number, ignoreIndex: number): FloatArray {
  const dx = like(logits);
  const e = new Float64Array(classes);
  const s = scale[0]!;
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t === ignoreIndex) continue;
    const base = r * classes, l = lse[r]!;
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      e[c] = Math.exp(logits[base + c]! - l);
      sum += e[c]!;
    }
    for (let c = 0; c < classes; c++) dx[base + c] = (e[c]! / sum - (c === t ? 1 : 0)) * s;
  }
  return dx;
}

/** out [n, dim] = table[idx[i]]; an index outside the table gives a zero row (as on the GPU). */
/** Copies rows whatever the element type (float16/bfloat16 bit patterns too). */
export function gatherRows<T extends TypedArray>(table: T, idx: Int32Array, n: number, dim: number): T {
  const out = new (table.constructor as new (size: number) => T)(n * dim);
  const rows = table.length / dim;
  for (let i = 0; i < n; i++) {
    const r = idx[i]!;
    if (r >= 0 && r < rows) out.set(table.subarray(r * dim, (r + 1) * dim), i * dim);
  }
  return out;
}

export function scatterAddRows(src: FloatArray, idx: Int32Array, n: number, rows: number, dim: number): FloatArray {
  const out = like(src, rows * dim);
  for (let i = 0; i < n; i++) {
    const r = idx[i]!;
    if (r < 0 || r >= rows) continue;
    for (let c = 0; c < dim; c++) out[r * dim + c]! += src[i * dim + c]!;
  }
  return out;
}

export function nnKernels(cpu: Cpu): NnKernels {
  return {
    softmax: (x, rows, cols, log) => cpu.adopt(softmax(floats(x), rows, cols, log)),
    softmaxGrad: (y, g, rows, cols, log) => cpu.adopt(softmaxGrad(floats(y), floats(g), rows, cols, log)),
    layerNorm: (x, gamma, beta, rows, cols, eps) => {
      const r = layerNorm(floats(x), gamma && floats(gamma), beta && floats(beta), rows, cols, eps);
      return { y: cpu.adopt(r.y), mean: cpu.adopt(r.mean), rstd: cpu.adopt(r.rstd) };
    },
    layerNormGrad: (x, gamma, mean, rstd, g, rows, cols, affine) => {
      const r = layerNormGrad(floats(x), gamma && floats(gamma), floats(mean), floats(rstd), floats(g), rows, cols, affine);
      return { gradX: cpu.adopt(r.gradX), gradGamma: r.gradGamma && cpu.adopt(r.gradGamma), gradBeta: r.gradBeta && cpu.adopt(r.gradBeta) };
    },
    crossEntropy: (logits, t, rows, classes, ignore) => {
      const r = crossEntropy(floats(logits), ints(t), rows, classes, ignore);
      return { loss: cpu.adopt(r.loss), lse: cpu.adopt(r.lse), valid: cpu.adopt(r.valid) };
    },
    crossEntropyGrad: (logits, lse, t, scale, rows, classes, ignore) =>
      cpu.adopt(crossEntropyGrad(floats(logits), floats(lse), ints(t), floats(scale), rows, classes, ignore)),
    gatherRows: (table, idx, n, dim) => cpu.adopt(gatherRows(elements(table), ints(idx), n, dim), table.dtype),
    scatterAddRows: (src, idx, n, rows, dim) => cpu.adopt(scatterAddRows(floats(src), ints(idx), n, rows, dim)),
  };
}
