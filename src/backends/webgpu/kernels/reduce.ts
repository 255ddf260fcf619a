/** The [outer, len, inner] reduction on WebGPU (reduce.wgsl). */
import type { ReduceKernels } from '../../backend.ts';
import { grid, Params } from '../gpu-context.ts';
import { buf, grid1d, rowWorkgroup, treeLoops, type Gpu, WG } from './gpu.ts';

/** Reductions at least this long run in parallel within a workgroup (tree, columns); shorter ones one thread per output. */
const TREE_MIN_LEN = 64;
/** Outputs per workgroup of the `columns` entry (reduce.wgsl, COLS). */
export const COLS = 32;

export function reduceKernels(gpu: Gpu): ReduceKernels {
  return {
    reduce(op, x, outer, len, inner) {
      const outputs = outer * inner;
      const out = gpu.alloc(op, x.dtype, outputs);
      const params = new Params().u32(outer).u32(len).u32(inner).u32(outputs);
      const constants = { OP: op === 'sum' ? 0 : 1 };
      if (len < TREE_MIN_LEN) {
        gpu.run({ shader: 'reduce', entry: 'serial', constants: { ...constants, WG: 64 }, params, buffers: [buf(x), buf(out)], groups: grid1d(outputs, 64), loops: len + 1 }, [out]);
      } else if (inner === 1) {
        const wg = rowWorkgroup(Math.ceil(len / 4));
        gpu.run({
          shader: 'reduce', entry: 'tree', constants: { ...constants, WG: wg }, params, buffers: [buf(x), buf(out)], groups: grid(outputs),
          loops: Math.ceil(len / wg) + 1 + treeLoops(wg) + 2,
        }, [out]);
      } else {
        gpu.run({
          shader: 'reduce', entry: 'columns', constants: { ...constants, WG }, params, buffers: [buf(x), buf(out)], groups: grid(outer * Math.ceil(inner / COLS)),
          loops: columnLoops(len),
        }, [out]);
      }
      return out;
    },
  };
}

/** Loop budget of a 32-column reduction over `len` rows with WG threads (reduce.wgsl `columns`, layer-norm-grad.wgsl `affine`). */
export function columnLoops(len: number): number {
  const lanes = WG / COLS;
  return Math.ceil(len / lanes) + 1 + treeLoops(lanes) + 2;
}
