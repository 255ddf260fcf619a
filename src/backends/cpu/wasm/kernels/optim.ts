/** The optimizer group on the WebAssembly tier: AdamW in place (gen/optim.ts); SGD stays in JavaScript. */
import type { OptimKernels } from '../../../backend.ts';
import { rowSplit } from '../runtime/runtime.ts';
import { Operands, type WasmCpu } from './operands.ts';
import type { Fallible } from './fallible.ts';

export function wasmOptim(cpu: WasmCpu): Fallible<OptimKernels> {
  return {
    adamwStep: (param, grad, m, v, h) => {
      const dtype = param.dtype;
      if ((dtype !== 'float32' && dtype !== 'float64') || [grad, m, v].some((s) => s.dtype !== dtype)) return null;
      const ops = new Operands(cpu);
      const n = param.size, B = dtype === 'float32' ? 4 : 8;
      const args = [
        ops.inout(param), ops.input(grad), ops.inout(m), ops.inout(v), n,
        h.lr, h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, 1 - h.lr * h.weightDecay, 1 - h.beta1 ** h.step, 1 - h.beta2 ** h.step, h.eps,
      ];
      if (!ops.ok) return ops.abandon();
      cpu.rt.run(`adamw_${dtype === 'float32' ? 'f32' : 'f64'}`, args, 8 * n, rowSplit(args, 4, [[0, B], [1, B], [2, B], [3, B]], 16));
      ops.finish();
      return undefined;
    },
  };
}
