/** Philox-4x32-10 streams on WebGPU: rand/randn and dropout, bit-identical masks to the CPU. */
import type { RandomKernels } from '../../backend.ts';
import { dropThreshold } from '../../../random.ts';
import { Params } from '../gpu-context.ts';
import { buf, grid1d, type Gpu } from './gpu.ts';

/** Params { n, seed, offset, threshold, scale } of philox.wgsl. */
function philoxParams(n: number, seed: number, offset: number, threshold = 0, scale = 0): Params {
  return new Params().u32(n).u32(seed).u32(offset).u32(threshold).f32(scale);
}

export function randomKernels(gpu: Gpu): RandomKernels {
  return {
    random(dist, dtype, size, seed, offset) {
      const out = gpu.alloc(dist === 'uniform' ? 'rand' : 'randn', dtype, size);
      // uniform: one Philox block per 4 elements; normal: one block per element
      const threads = dist === 'uniform' ? Math.ceil(size / 4) : size;
      gpu.run({
        shader: 'philox', entry: dist === 'uniform' ? 'rand_uniform' : 'rand_normal',
        params: philoxParams(size, seed, offset), buffers: [null, buf(out)], groups: grid1d(threads),
      });
      return out;
    },
    dropout(x, p, seed, offset) {
      const out = gpu.alloc('dropout', x.dtype, x.size);
      gpu.run({
        shader: 'philox', entry: 'dropout', params: philoxParams(x.size, seed, offset, dropThreshold(p), 1 / (1 - p)),
        buffers: [buf(x), buf(out)], groups: grid1d(Math.ceil(x.size / 4)),
      });
      return out;
    },
  };
}
