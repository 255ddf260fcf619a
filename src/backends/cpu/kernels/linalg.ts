/** The LoRA-FA r×r solve on the CPU: the host float64 Cholesky solve of src/linalg/dense.ts. */
import type { LinalgKernels } from '../../backend.ts';
import { cholSolveF64 } from '../../../linalg/dense.ts';
import { floats, type Cpu } from './cpu.ts';

export function linalgKernels(cpu: Cpu): LinalgKernels {
  return {
    /** Solved in float64 whatever rhs's dtype, returned in rhs's dtype. */
    cholSolve: (L, rhs, r, cols) => {
      const x = cholSolveF64(floats(L), floats(rhs), r, cols);
      return cpu.adopt(rhs.dtype === 'float64' ? x : Float32Array.from(x));
    },
  };
}
