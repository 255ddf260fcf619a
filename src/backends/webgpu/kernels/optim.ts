/** The in-place optimizer steps on WebGPU. */
import type { OptimKernels } from '../../backend.ts';
import { Params } from '../gpu-context.ts';
import { buf, grid1d, type Gpu } from './gpu.ts';

export function optimKernels(gpu: Gpu): OptimKernels {
  return {
    adamwStep(param, grad, m, v, h) {
      // bias corrections and the decay factor in float64 on the host, as the CPU step
      const params = new Params().u32(param.size).f32(h.lr).f32(h.beta1).f32(h.beta2).f32(h.eps)
        .f32(1 - h.lr * h.weightDecay).f32(1 - h.beta1 ** h.step).f32(1 - h.beta2 ** h.step);
      gpu.run({ shader: 'adamw', params, buffers: [buf(param), buf(grad), buf(m), buf(v)], groups: grid1d(param.size) });
    },
    sgdStep(param, grad, momentumBuf, h) {
      gpu.run({
        shader: 'sgd', constants: { MOMENTUM: momentumBuf !== null, NESTEROV: h.nesterov },
        params: new Params().u32(param.size).f32(h.lr).f32(h.momentum).f32(h.weightDecay),
        buffers: [buf(param), buf(grad), momentumBuf ? buf(momentumBuf) : gpu.placeholder], groups: grid1d(param.size),
      });
    },
  };
}
