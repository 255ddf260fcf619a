/** Row-wise kernels (softmax, layerNorm, crossEntropy and their gradients) and embedding rows. */
import type { NnKernels } from '../../backend.ts';
import { grid, Params } from '../gpu-context.ts';
import { isHalf } from '../../../half-float.ts';
import { buf, grid1d, rowLoops, rowWorkgroup, type Gpu, WG, wordsOf } from './gpu.ts';
import { COLS, columnLoops } from './reduce.ts';

export function nnKernels(gpu: Gpu): NnKernels {
  return {
    softmax(x, rows, cols, log) {
      const y = gpu.alloc(log ? 'logSoftmax' : 'softmax', x.dtype, rows * cols);
      gpu.run({
        shader: 'softmax', constants: { LOG: log, WG: rowWorkgroup(cols) }, params: new Params().u32(rows).u32(cols), loops: rowLoops(cols, 2, 1),
        buffers: [buf(x), buf(y)], groups: grid(rows),
      }, [y]);
      return y;
    },
    softmaxGrad(y, gradOut, rows, cols, log) {
      const dx = gpu.alloc(log ? 'logSoftmax' : 'softmax', y.dtype, rows * cols);
      gpu.run({
        shader: 'softmax-grad', constants: { LOG: log, WG: rowWorkgroup(cols) }, params: new Params().u32(rows).u32(cols), loops: rowLoops(cols, 2, 1),
        buffers: [buf(y), buf(gradOut), buf(dx)], groups: grid(rows),
      }, [dx]);
      return dx;
    },
    layerNorm(x, gamma, beta, rows, cols, eps) {
      const y = gpu.alloc('layerNorm', x.dtype, rows * cols);
      const mean = gpu.alloc('layerNorm', x.dtype, rows), rstd = gpu.alloc('layerNorm', x.dtype, rows);
      gpu.run({
        shader: 'layer-norm', constants: { HAS_GAMMA: gamma !== null, HAS_BETA: beta !== null, WG: rowWorkgroup(cols) },
        params: new Params().u32(rows).u32(cols).f32(eps), loops: rowLoops(cols, 3, 2),
        buffers: [buf(x), gamma ? buf(gamma) : gpu.placeholder, beta ? buf(beta) : gpu.placeholder, buf(y), buf(mean), buf(rstd)],
        groups: grid(rows),
      }, [y, mean, rstd]);
      return { y, mean, rstd };
    },
    layerNormGrad(x, gamma, mean, rstd, gradOut, rows, cols, affine) {
      const gradX = gpu.alloc('layerNorm', x.dtype, rows * cols);
      const params = new Params().u32(rows).u32(cols);
      gpu.run({
        shader: 'layer-norm-grad', constants: { HAS_GAMMA: gamma !== null, WG: rowWorkgroup(cols) }, params, loops: rowLoops(cols, 2, 1),
        buffers: [buf(x), gamma ? buf(gamma) : gpu.placeholder, buf(mean), buf(rstd), buf(gradOut), buf(gradX)], groups: grid(rows),
      }, [gradX]);
      if (!affine) return { gradX, gradGamma: null, gradBeta: null };
      const gradGamma = gpu.alloc('layerNorm', x.dtype, cols), gradBeta = gpu.alloc('layerNorm', x.dtype, cols);
      gpu.run({
        shader: 'layer-norm-grad', entry: 'affine', constants: { WG }, params, loops: columnLoops(rows),
        buffers: [buf(x), null, buf(mean), buf(rstd), buf(gradOut), null, buf(gradGamma), buf(gradBeta)], groups: grid(Math.ceil(cols / COLS)),
      }, [gradX, gradGamma, gradBeta]);
      return { gradX, gradGamma, gradBeta };
    },
    crossEntropy(logits, targets, rows, classes, ignoreIndex) {
      const loss = gpu.alloc('crossEntropy', logits.dtype, rows);
      const lse = gpu.alloc('crossEntropy', logits.dtype, rows), valid = gpu.alloc('crossEntropy', logits.dtype, rows);
      gpu.run({
        shader: 'cross-entropy', constants: { WG: rowWorkgroup(classes) }, params: new Params().u32(rows).u32(classes).i32(ignoreIndex), loops: rowLoops(classes, 1, 1),
        buffers: [buf(logits), buf(targets), buf(loss), buf(lse), buf(valid)], groups: grid(rows),
      }, [loss, lse, valid]);
      return { loss, lse, valid };
    },
    crossEntropyGrad(logits, lse, targets, scale, rows, classes, ignoreIndex) {
      const dz = gpu.alloc('crossEntropy', logits.dtype, rows * classes);
      gpu.run({
        shader: 'cross-entropy-grad', constants: { WG: rowWorkgroup(classes) },
        params: new Params().u32(rows).u32(classes).i32(ignoreIndex), loops: rowLoops(classes, 2, 1),
        buffers: [buf(logits), buf(lse), buf(targets), buf(scale), buf(dz)], groups: grid(rows),
      }, [dz]);
      return dz;
    },
    /**
     * out [n, dim] = table[indices[i]] (gather-rows.wgsl). An index outside [0, table rows) is not
     * an error here, unlike ops.embedding on the CPU (which reads its indices): the row comes out
     * as zeros, silently, since checking would need a read-back inside forward.
     */
    gatherRows(table, indices, n, dim) {
      const out = gpu.alloc('embedding', table.dtype, n * dim);
      const tableRows = dim === 0 ? 0 : table.size / dim;
      gpu.run({
        shader: 'gather-rows', constants: { HALF: isHalf(table.dtype) }, params: new Params().u32(n * dim).u32(dim).u32(tableRows),
        buffers: [buf(table), buf(indices), buf(out)], groups: grid1d(wordsOf(table.dtype, n * dim)),
      });
      return out;
    },
    /**
     * out [rows, dim] = Σ_i src[i] into row indices[i], deterministically (scatter-add-rows.wgsl).
     * An index outside [0, rows) is skipped without an error: its gradient is dropped silently.
     */
    scatterAddRows(src, indices, n, rows, dim) {
      const out = gpu.alloc('embedding', src.dtype, rows * dim);
      if (rows * dim === 0) return out;
      // scratch: heads [rows + 1] then the positions sorted by row [n] (see scatter-add-rows.wgsl)
      const lists = gpu.alloc('embedding', 'int32', rows + 1 + n);
      const params = new Params().u32(rows * dim).u32(rows).u32(dim).u32(n);
      gpu.run({
        // its four loops: rows + 1 and n iterations, then rows and n
        shader: 'scatter-add-rows', entry: 'bucket', params, buffers: [buf(indices), buf(lists)], groups: [1, 1, 1], loops: 2 * rows + 2 * n + 5,
      }, [out, lists]);
      gpu.run({
        shader: 'scatter-add-rows', entry: 'accumulate', params, loops: n + 1, // a row's bucket holds at most n positions
        buffers: [null, buf(lists), buf(src), buf(out)], groups: grid1d(rows * dim),
      }, [out, lists]);
      lists.release();
      return out;
    },
  };
}
