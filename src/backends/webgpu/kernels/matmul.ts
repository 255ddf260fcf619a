/**
 * Matmul on WebGPU: the plan (matmul-plan.ts) picks a generated tiled kernel (matmul-wgsl.ts) and
 * maybe a split of k; this records its dispatches. The epilogue (alpha, bias, c) runs in the same
 * pass — or, with split-K, in the ordered reduction that adds the partial products.
 */
import type { MatmulEpilogue, MatmulKernels, MatmulParams, Storage } from '../../backend.ts';
import { fail } from '../../../errors.ts';
import { isHalf } from '../../../half-float.ts';
import { MAX_GROUPS, Params } from '../gpu-context.ts';
import { buf, grid1d, type Gpu } from './gpu.ts';
import { chooseMatmul, groupsOf, tiledLoops, type Plan } from './matmul-plan.ts';
import { halfVariantName } from './matmul-wgsl.ts';

/** out [batch, m, n] = alpha·op(a)·op(b) (+ bias) (+ c) with the kernel and split of k that `plan` says (a 16-bit a: halfFused). */
export function recordMatmul(gpu: Gpu, a: Storage, b: Storage, p: MatmulParams, epi: MatmulEpilogue, plan: Plan): Storage {
  const { batch, m, n } = p;
  const { variant: v, splits, kChunk } = plan;
  const groups = groupsOf(p, v, splits);
  if (groups[0] > MAX_GROUPS || groups[1] > MAX_GROUPS) {
    fail('matmul', `an output of [${m}, ${n}] needs more than ${MAX_GROUPS} tiles of ${v.name} along one side`);
  }
  const alpha = epi.alpha ?? 1;
  const bias = epi.bias ? buf(epi.bias) : null, c = epi.c ? buf(epi.c) : null;
  const out = gpu.alloc('matmul', a.dtype, batch * m * n);
  const split = splits > 1;
  const flags = (bias ? 1 : 0) | (c ? 2 : 0); // the epilogue's terms (a uniform: no pipeline per combination)
  const part = split ? gpu.alloc('matmul', a.dtype, batch * splits * m * n) : out; // partial products [batch·splits, m, n]
  const outputs = split ? [out, part] : [out];
  try {
    gpu.run({
      shader: isHalf(a.dtype) ? halfVariantName(v, a.dtype) : v.name,
      constants: { TRANS_A: p.transA, TRANS_B: p.transB, ALIGNED: plan.aligned },
      params: new Params().u32(m).u32(n).u32(p.k).u32(batch * splits).u32(p.aBatchStride).u32(p.bBatchStride).u32(splits).u32(kChunk)
        .f32(split ? 1 : alpha).u32(split ? 0 : flags),
      buffers: [buf(a), buf(b), buf(part), bias ?? gpu.placeholder, c ?? gpu.placeholder],
      groups,
      loops: tiledLoops(p, v, splits, kChunk),
    }, outputs);
    if (split) {
      const total = batch * m * n;
      gpu.run({
        shader: 'matmul-reduce', params: new Params().u32(total).u32(m * n).u32(n).u32(splits).f32(alpha).u32(flags),
        buffers: [buf(part), buf(out), bias ?? gpu.placeholder, c ?? gpu.placeholder],
        groups: grid1d(total), loops: splits + 1,
      }, outputs);
    }
  } finally {
    if (split && !part.freed) part.release();
  }
  return out;
}

export function matmulKernels(gpu: Gpu): MatmulKernels {
  return {
    matmul: (a, b, p, epi = {}) => recordMatmul(gpu, a, b, p, epi, chooseMatmul(p, gpu.matmulPlan)),
  };
}

/**
 * matmul with float16/bfloat16 operands in one pass, where it can: every operand (a, b, bias, c)
 * in the same 16-bit dtype and a plan with a vec4 kernel and no split of k — the tile loads widen,
 * the epilogue rounds (matmul-wgsl.ts), bit-identical to `widened` (withHalfPrecision's matmul:
 * cast to float32 scratch, multiply, cast back) without its scratch copies and casts. Otherwise
 * (f32-access shapes, split-K, mixed dtypes) `widened` runs.
 */
export function halfFused(gpu: Gpu, widened: MatmulKernels['matmul']): MatmulKernels['matmul'] {
  return (a, b, p, epi = {}) => {
    const half = a.dtype;
    const same = isHalf(half) && [b, epi.bias, epi.c].every((s) => s === undefined || s === null || s.dtype === half);
    if (!same) return widened(a, b, p, epi);
    const plan = chooseMatmul(p, gpu.matmulPlan);
    return plan.variant.vec && plan.splits === 1 ? recordMatmul(gpu, a, b, p, epi, plan) : widened(a, b, p, epi);
  };
}
