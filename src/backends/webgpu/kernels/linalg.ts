/** The LoRA-FA r×r solve on WebGPU (chol-solve.wgsl). */
import type { LinalgKernels } from '../../backend.ts';
import { Params } from '../gpu-context.ts';
import { buf, grid1d, type Gpu } from './gpu.ts';

export function linalgKernels(gpu: Gpu): LinalgKernels {
  return {
    cholSolve(L, rhs, r, cols) {
      const out = gpu.alloc('cholSolve', rhs.dtype, r * cols);
      gpu.run({
        shader: 'chol-solve', constants: { WG: 64 }, params: new Params().u32(r).u32(cols), buffers: [buf(L), buf(rhs), buf(out)], groups: grid1d(cols, 64),
        // each substitution: r passes of the outer loop + 1, and i (then r − 1 − i) passes of the inner one + 1 per row
        loops: (r + 1) * (r + 2),
      }, [out]);
      return out;
    },
  };
}
