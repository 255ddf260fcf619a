import os from 'node:os';
import { Storage, type AllocationStats, type Backend, type Kernels } from '../backend.ts';
import { typedArrayFor, type DType, type TypedArray } from '../../dtype.ts';
import { fillNormal, fillUniform } from '../../random.ts';
import * as ew from './elementwise.ts';
import type { FloatArray } from './float-array.ts';
import { gatherStrided, scatterStrided } from './layout.ts';
import { cholSolveF64 } from './linalg.ts';
import { matmul } from './matmul.ts';
import * as nn from './nn.ts';
import { adamwStep, sgdStep } from './optim.ts';
import { reduce } from './reduce.ts';

/** The element data of a CPU storage. */
function d(s: Storage): FloatArray {
  return s.handle as FloatArray;
}

function ints(s: Storage): Int32Array {
  return s.handle as Int32Array;
}

/** The reference backend: float32, float64 and int32 in typed arrays, single-threaded. */
export class CpuBackend implements Backend {
  readonly device = 'cpu' as const;
  readonly description = `CPU (${os.cpus()[0]?.model?.trim() ?? 'unknown'}), JavaScript, 1 thread`;
  private stats: AllocationStats = { liveBuffers: 0, liveBytes: 0, peakBytes: 0 };

  supportsDtype(_dtype: DType): boolean {
    return true;
  }

  /** Adopts a typed array as a new storage (no copy). */
  wrap(data: TypedArray): Storage<TypedArray> {
    const dtype: DType = data instanceof Float64Array ? 'float64' : data instanceof Int32Array ? 'int32' : 'float32';
    const s = new Storage<TypedArray>(this, dtype, data.length, data);
    this.stats.liveBuffers++;
    this.stats.liveBytes += s.bytes;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes);
    return s;
  }

  upload(data: TypedArray): Storage {
    return this.wrap(data.slice());
  }

  async read(s: Storage): Promise<TypedArray> {
    return this.readSync(s);
  }

  readSync(s: Storage): TypedArray {
    return (s.handle as TypedArray).slice();
  }

  free(s: Storage): void {
    this.stats.liveBuffers--;
    this.stats.liveBytes -= s.bytes;
    s.handle = null;
  }

  memory(): AllocationStats {
    return { ...this.stats };
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.liveBytes;
  }

  readonly kernels: Kernels = {
    full: (dtype, size, value) => this.wrap(ew.full(dtype, size, value)),
    cast: (x, dtype) => this.wrap(ew.cast(x.handle as TypedArray, dtype)),
    random: (dist, dtype, size, seed, offset) => {
      const out = typedArrayFor(dtype, size) as FloatArray;
      (dist === 'uniform' ? fillUniform : fillNormal)(out, seed, offset);
      return this.wrap(out);
    },
    unary: (op, x, p) => this.wrap(ew.unary(op, d(x), p)),
    unaryGrad: (op, s, g, p) => this.wrap(ew.unaryGrad(op, d(s), d(g), p)),
    binary: (op, a, as, b, bs, os) => this.wrap(ew.binary(op, d(a), as, d(b), bs, os)),
    where: (c, cs, a, as, b, bs, os) => this.wrap(ew.where(c.handle as TypedArray, cs, d(a), as, d(b), bs, os)),
    reduce: (op, x, outer, len, inner) => this.wrap(reduce(op, d(x), outer, len, inner)),
    matmul: (a, b, p) => this.wrap(matmul(d(a), d(b), p)),
    gatherStrided: (x, view) => this.wrap(gatherStrided(x.handle as TypedArray, view)),
    scatterStrided: (dst, src, view) => scatterStrided(dst.handle as TypedArray, src.handle as TypedArray, view),
    softmax: (x, rows, cols, log) => this.wrap(nn.softmax(d(x), rows, cols, log)),
    softmaxGrad: (y, g, rows, cols, log) => this.wrap(nn.softmaxGrad(d(y), d(g), rows, cols, log)),
    layerNorm: (x, gamma, beta, rows, cols, eps) => {
      const r = nn.layerNorm(d(x), gamma && d(gamma), beta && d(beta), rows, cols, eps);
      return { y: this.wrap(r.y), mean: this.wrap(r.mean), rstd: this.wrap(r.rstd) };
    },
    layerNormGrad: (x, gamma, mean, rstd, g, rows, cols) => {
      const r = nn.layerNormGrad(d(x), gamma && d(gamma), d(mean), d(rstd), d(g), rows, cols);
      return { gradX: this.wrap(r.gradX), gradGamma: this.wrap(r.gradGamma), gradBeta: this.wrap(r.gradBeta) };
    },
    crossEntropy: (logits, t, rows, classes, ignore) => {
      const r = nn.crossEntropy(d(logits), ints(t), rows, classes, ignore);
      return { loss: this.wrap(r.loss), lse: this.wrap(r.lse), valid: this.wrap(r.valid) };
    },
    crossEntropyGrad: (logits, lse, t, scale, rows, classes, ignore) =>
      this.wrap(nn.crossEntropyGrad(d(logits), d(lse), ints(t), d(scale), rows, classes, ignore)),
    gatherRows: (table, idx, n, dim) => this.wrap(nn.gatherRows(d(table), ints(idx), n, dim)),
    scatterAddRows: (src, idx, n, rows, dim) => this.wrap(nn.scatterAddRows(d(src), ints(idx), n, rows, dim)),
    dropout: (x, p, seed, offset) => this.wrap(nn.dropout(d(x), p, seed, offset)),
    cholSolve: (L, rhs, r, cols) => {
      const x = cholSolveF64(d(L), d(rhs), r, cols);
      return this.wrap(rhs.dtype === 'float64' ? x : Float32Array.from(x));
    },
    adamwStep: (p, g, m, v, h) => adamwStep(d(p), d(g), d(m), d(v), h),
    sgdStep: (p, g, buf, h) => sgdStep(d(p), d(g), buf && d(buf), h),
  };
}
