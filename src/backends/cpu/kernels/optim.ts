import type { AdamWParams, OptimKernels, SgdParams } from '../../backend.ts';
import type { FloatArray } from '../float-array.ts';
import { floats } from './cpu.ts';

/**
 * AdamW (Loshchilov & Hutter), as torch.optim.AdamW:
 *   p ← p − lr·λ·p;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
 *   p ← p − lr · (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)
 */
export function adamwStep(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, h: AdamWParams): void {
  const bc1 = 1 - h.beta1 ** h.step, bc2 = 1 - h.beta2 ** h.step;
  const decay = 1 - h.lr * h.weightDecay;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    const mi = (m[i] = h.beta1 * m[i]! + (1 - h.beta1) * gi);
    const vi = (v[i] = h.beta2 * v[i]! + (1 - h.beta2) * gi * gi);
    p[i] = p[i]! * decay - (h.lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + h.eps);
  }
}

/**
 * SGD as torch.optim.SGD (dampening 0): d = g + λp; buf ← μ·buf + d;
 * d ← nesterov ? d + μ·buf : buf;  p ← p − lr·d. A zero-initialised buf makes step 1 buf = d.
 */
export function sgdStep(p: FloatArray, g: FloatArray, buf: FloatArray | null, h: SgdParams): void {
  for (let i = 0; i < p.length; i++) {
    let d = g[i]! + h.weightDecay * p[i]!;
    if (buf) {
      const b = (buf[i] = h.momentum * buf[i]! + d);
      d = h.nesterov ? d + h.momentum * b : b;
    }
    p[i] = p[i]! - h.lr * d;
  }
}

export function optimKernels(): OptimKernels {
  return {
    adamwStep: (p, g, m, v, h) => adamwStep(floats(p), floats(g), floats(m), floats(v), h),
    sgdStep: (p, g, buf, h) => sgdStep(floats(p), floats(g), buf && floats(buf), h),
  };
}
