/**
 * Matmul on WebGPU: the plan (matmul-plan.ts) picks a generated tiled kernel (matmul-wgsl.ts) and
 * maybe a split of k; this records its dispatches. The epilogue (alpha, bias, c) runs in the same
 * pass — or, with split-K, in the ordered reduction that adds the partial products.
 */
import type { MatmulEpilogue, MatmulKernels, MatmulParams, Storage } from '../../backend.ts';
import { fail } from '../../../errors.ts';
import { MAX_GROUPS, Params } from '../gpu-context.ts';
import { buf, grid1d, type Gpu } from './gpu.ts';
import { chooseMatmul, groupsOf, tiledLoops, type Plan } from './matmul-plan.ts';

/** out [batch, m, n] = alpha·op(a)·op(b) (+ bias) (+ c) with the kernel and split of k that `plan` says. */
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
      shader: v.name,
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
