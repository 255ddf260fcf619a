/** Philox-4x32-10 streams on the CPU: rand/randn and dropout (the reference for the WebGPU kernels). */
import type { RandomKernels } from '../../backend.ts';
import { typedArrayFor } from '../../../dtype.ts';
import { dropThreshold, fillNormal, fillUniform, philox4x32 } from '../../../random.ts';
import { like, type FloatArray } from '../float-array.ts';
import { floats, type Cpu } from './cpu.ts';

/** Inverted dropout with the mask drawn from Philox (seed, offset); see random.ts. */
export function dropout(x: FloatArray, p: number, seed: number, offset: number): FloatArray {
  const y = like(x);
  const threshold = dropThreshold(p), scale = 1 / (1 - p);
  const w = new Uint32Array(4);
  for (let i = 0; i < x.length; i += 4) {
    philox4x32((offset + i / 4) >>> 0, 0, 0, 0, seed >>> 0, 0, w);
    for (let lane = 0; lane < 4 && i + lane < x.length; lane++) {
      y[i + lane] = w[lane]! >>> 8 >= threshold ? x[i + lane]! * scale : 0;
    }
  }
  return y;
}

export function randomKernels(cpu: Cpu): RandomKernels {
  return {
    random: (dist, dtype, size, seed, offset) => {
      const out = typedArrayFor(dtype, size) as FloatArray;
      (dist === 'uniform' ? fillUniform : fillNormal)(out, seed, offset);
      return cpu.adopt(out);
    },
    dropout: (x, p, seed, offset) => cpu.adopt(dropout(floats(x), p, seed, offset)),
  };
}
