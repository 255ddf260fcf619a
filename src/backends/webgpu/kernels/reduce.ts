/** The [outer, len, inner] reduction on WebGPU (reduce.wgsl). */
import type { ReduceKernels } from '../../backend.ts';
import { grid, Params } from '../gpu-context.ts';
import { buf, grid1d, rowWorkgroup, type Gpu } from './gpu.ts';

/** Rows at least this long are reduced by a workgroup tree; shorter ones by one thread each. */
const TREE_MIN_LEN = 64;

export function reduceKernels(gpu: Gpu): ReduceKernels {
  return {
    reduce(op, x, outer, len, inner) {
      const outputs = outer * inner;
      const out = gpu.alloc(op, x.dtype, outputs);
      const params = new Params().u32(outer).u32(len).u32(inner).u32(outputs);
      // long rows: one workgroup per output, a tree over its threads; short rows: one thread per output
      const tree = len >= TREE_MIN_LEN;
      const wg = tree ? rowWorkgroup(Math.ceil(len / 4)) : 64;
      gpu.run({
        shader: 'reduce', entry: tree ? 'tree' : 'serial', constants: { OP: op === 'sum' ? 0 : 1, WG: wg }, params,
        buffers: [buf(x), buf(out)], groups: tree ? grid(outputs) : grid1d(outputs, wg), loops: tree ? Math.ceil(len / wg) : len,
      }, [out]);
      return out;
    },
  };
}
