/**
 * The nn group on the WebAssembly tier: the float32 row kernels of gen/nn.ts, split between
 * threads by rows (layerNormGrad's column sums by columns). Float64 stays in JavaScript, the
 * reference; a kernel returns null where it does not apply and the backend runs the JavaScript one.
 */
import type { NnKernels, Storage } from '../../../backend.ts';
import { rowSplit } from '../runtime/runtime.ts';
import { Operands, type WasmCpu } from './operands.ts';
import type { Fallible } from './fallible.ts';

/** Work per element (matmul flops of the same time) of a row kernel with exp, and without. */
const WITH_EXP = 24, PLAIN = 8;

const f32 = (...xs: (Storage | null)[]): boolean => xs.every((x) => x === null || x.dtype === 'float32');

export function wasmNn(cpu: WasmCpu): Fallible<NnKernels> {
  return {
    softmax: (x, rows, cols, log) => {
      if (!f32(x)) return null;
      const ops = new Operands(cpu);
      const args = [ops.input(x), ops.output('float32', rows * cols), rows, cols, log ? 1 : 0];
      if (!ops.ok) return ops.abandon();
      cpu.rt.run('softmax_f32', args, rows * cols * WITH_EXP, rowSplit(args, 2, [[0, 4 * cols], [1, 4 * cols]]));
      return ops.finish()[0]!;
    },
    softmaxGrad: (y, g, rows, cols, log) => {
      if (!f32(y, g)) return null;
      const ops = new Operands(cpu);
      const args = [ops.input(y), ops.input(g), ops.output('float32', rows * cols), rows, cols, log ? 1 : 0];
      if (!ops.ok) return ops.abandon();
      cpu.rt.run('softmaxgrad_f32', args, rows * cols * (log ? WITH_EXP : PLAIN), rowSplit(args, 3, [[0, 4 * cols], [1, 4 * cols], [2, 4 * cols]]));
      return ops.finish()[0]!;
    },
    layerNorm: (x, gamma, beta, rows, cols, eps) => {
      if (!f32(x, gamma, beta) || (gamma === null) !== (beta === null)) return null;
      const ops = new Operands(cpu);
      const args = [
        ops.input(x), gamma ? ops.input(gamma) : 0, beta ? ops.input(beta) : 0,
        ops.output('float32', rows * cols), ops.output('float32', rows), ops.output('float32', rows), rows, cols, eps,
      ];
      if (!ops.ok) return ops.abandon();
      cpu.rt.run('layernorm_f32', args, rows * cols * PLAIN, rowSplit(args, 6, [[0, 4 * cols], [3, 4 * cols], [4, 4], [5, 4]]));
      const [y, mean, rstd] = ops.finish() as [Storage, Storage, Storage];
      return { y, mean, rstd };
    },
    layerNormGrad: (x, gamma, mean, rstd, g, rows, cols, affine) => {
      if (!f32(x, gamma, mean, rstd, g)) return null;
      const ops = new Operands(cpu);
      const [px, pg, pm, pr, pgrad] = [ops.input(x), gamma ? ops.input(gamma) : 0, ops.input(mean), ops.input(rstd), ops.input(g)];
      const dx = ops.output('float32', rows * cols);
      // affine: dγ, dβ from column sums in float64, dγ in acc[0, cols + 4), dβ in the next cols + 4 (a partial group's lanes spill into the 4)
      const gradGamma = affine ? ops.output('float32', cols) : 0, gradBeta = affine ? ops.output('float32', cols) : 0;
      const half = 8 * (cols + 4), acc = affine ? ops.scratch(2 * half) : 0;
      if (!ops.ok) return ops.abandon();
      const args = [px, pg, pm, pr, pgrad, dx, rows, cols];
      cpu.rt.run('layernormgrad_f32', args, rows * cols * PLAIN, rowSplit(args, 6, [[0, 4 * cols], [4, 4 * cols], [5, 4 * cols], [2, 4], [3, 4]]));
      if (!affine) return { gradX: ops.finish()[0]!, gradGamma: null, gradBeta: null };
      // layernormcols_f32(x, mean, rstd, g, acc, half, gradGamma, gradBeta, rows, cols, rowStride) over column ranges of 4
      const colArgs = [px, pm, pr, pgrad, acc, half, gradGamma, gradBeta, rows, cols, cols];
      cpu.rt.run('layernormcols_f32', colArgs, rows * cols * PLAIN, rowSplit(colArgs, 9, [[0, 4], [3, 4], [4, 8], [6, 4], [7, 4]], 4));
      const [gradX, gGamma, gBeta] = ops.finish() as [Storage, Storage, Storage];
      return { gradX, gradGamma: gGamma, gradBeta: gBeta };
    },
    crossEntropy: (logits, targets, rows, classes, ignoreIndex) => {
      if (!f32(logits) || targets.dtype !== 'int32') return null;
      const ops = new Operands(cpu);
      const args = [
        ops.input(logits), ops.input(targets),
        ops.output('float32', rows), ops.output('float32', rows), ops.output('float32', rows), rows, classes, ignoreIndex,
      ];
      if (!ops.ok) return ops.abandon();
      cpu.rt.run('crossentropy_f32', args, rows * classes * WITH_EXP, rowSplit(args, 5, [[0, 4 * classes], [1, 4], [2, 4], [3, 4], [4, 4]]));
      const [loss, lse, valid] = ops.finish() as [Storage, Storage, Storage];
      return { loss, lse, valid };
    },
    crossEntropyGrad: (logits, lse, targets, scale, rows, classes, ignoreIndex) => {
      if (!f32(logits, lse, scale) || targets.dtype !== 'int32') return null;
      const ops = new Operands(cpu);
      const args = [ops.input(logits), ops.input(lse), ops.input(targets), ops.input(scale), ops.output('float32', rows * classes), rows, classes, ignoreIndex];
      if (!ops.ok) return ops.abandon();
      cpu.rt.run('crossentropygrad_f32', args, rows * classes * WITH_EXP, rowSplit(args, 5, [[0, 4 * classes], [1, 4], [2, 4], [4, 4 * classes]]));
      return ops.finish()[0]!;
    },
  };
}

