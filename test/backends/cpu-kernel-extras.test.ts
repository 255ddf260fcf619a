/**
 * The kernels the WebGPU issue added to the Kernels interface, on every CPU tier (JS, wasm on one
 * and three threads, wasm without shared memory) against float64 references: matmul's epilogue
 * (alpha of both signs, bias, c, each alone and together, batches, matrix·vector shapes, k = 0),
 * binaryScalar (every op, the value on either side, both signs, sizes across vector edges) and
 * layerNormGrad without affine (null dγ, dβ; the same dx as with).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { configureCpu, getBackend, initCpu } from '../../src/index.ts';
import type { BinaryOp, MatmulEpilogue, MatmulParams, Storage } from '../../src/backends/backend.ts';
import { CPU_TIERS } from '../helpers/cpu-tiers.ts';
import { filled } from '../helpers/filled.ts';

const cpu = getBackend('cpu');
type Dtype = 'float32' | 'float64';

afterAll(() => configureCpu({ tier: 'wasm', threads: 1, parallelMinFlops: 2 ** 26, sharedMemory: true }));

/** Runs a kernel on uploaded inputs, returns its output's elements and releases everything. */
function withInputs<T>(arrays: (Float32Array | Float64Array)[], f: (s: Storage[]) => T): T {
  const s = arrays.map((a) => cpu.upload(a));
  try {
    return f(s);
  } finally {
    for (const x of s) x.release();
  }
}

interface EpilogueCase { m: number; n: number; k: number; batch: number; transA: boolean; alpha?: number; bias: boolean; c: boolean; dtype: Dtype }

/** alpha·A·B + bias + c against the float64 sum: |got − ref| ≤ tol·(|alpha|·Σ|a·b| + |bias| + |c|). */
function checkEpilogue(e: EpilogueCase): void {
  const { m, n, k, batch, transA, dtype } = e;
  const a = filled(dtype, batch * m * k, 3), b = filled(dtype, batch * k * n, 5);
  const bias = filled(dtype, n, 7), c = filled(dtype, batch * m * n, 11);
  const p: MatmulParams = { batch, m, n, k, transA, transB: false, aBatchStride: m * k, bBatchStride: k * n };
  const out = withInputs([a, b, bias, c], ([sa, sb, sBias, sc]) => {
    const epi: MatmulEpilogue = { alpha: e.alpha, bias: e.bias ? sBias : null, c: e.c ? sc : null };
    const r = cpu.kernels.matmul(sa!, sb!, p, epi);
    const data = cpu.readSync!(r);
    r.release();
    return data;
  });
  const alpha = e.alpha ?? 1, tol = dtype === 'float32' ? 2 * (k + 3) * 2 ** -23 : 1e-13;
  for (let bi = 0; bi < batch; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0, mag = 0;
        for (let l = 0; l < k; l++) {
          const x = a[bi * m * k + (transA ? l * m + i : i * k + l)]! * b[bi * k * n + l * n + j]!;
          dot += x;
          mag += Math.abs(x);
        }
        const at = (bi * m + i) * n + j, extra = (e.bias ? bias[j]! : 0) + (e.c ? c[at]! : 0);
        const ref = alpha * dot + extra, bound = tol * (Math.abs(alpha) * mag + Math.abs(extra) + 1e-30);
        if (!(Math.abs(out[at]! - ref) <= bound)) expect.fail(`${JSON.stringify(e)}: out[${at}] = ${out[at]}, expected ${ref}`);
      }
    }
  }
}

const OPS: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y,
  eq: (x, y) => (x === y ? 1 : 0), gt: (x, y) => (x > y ? 1 : 0),
};

describe.each(CPU_TIERS)('Kernels additions on $label', ({ options }) => {
  it('matmul epilogue: alpha of both signs, bias, c, alone and together; batches, m = 1, n = 1, tile edges, k = 0', async () => {
    await initCpu(options);
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [m, n, k, batch] of [[1, 1, 1, 1], [5, 7, 3, 1], [33, 17, 40, 3], [1, 37, 19, 2], [29, 1, 13, 2], [64, 130, 16, 1], [9, 6, 0, 2]] as const) {
        for (const [alpha, bias, c] of [[undefined, true, false], [-0.75, false, true], [2.5, true, true], [-1, false, false], [undefined, false, true]] as const) {
          checkEpilogue({ m, n, k, batch, transA: m % 2 === 1, alpha, bias, c, dtype });
        }
      }
    }
  });

  it('binaryScalar: every op, the value on either side, both signs, sizes 1 to past two vectors', async () => {
    await initCpu(options);
    for (const dtype of ['float32', 'float64'] as const) {
      const round = dtype === 'float32' ? Math.fround : (v: number) => v;
      for (const size of [1, 3, 4, 5, 17, 1000]) {
        const x = filled(dtype, size, size);
        x[0] = round(0.1); // eq hits where the value is x[0]
        for (const value of [0.1, -2.5, 3]) {
          for (const valueFirst of [false, true]) {
            for (const op of Object.keys(OPS) as BinaryOp[]) {
              const got = withInputs([x], ([s]) => {
                const r = cpu.kernels.binaryScalar(op, s!, value, valueFirst);
                const data = cpu.readSync!(r);
                r.release();
                return data;
              });
              const v = round(value);
              const want = Array.from(x, (xi) => round(valueFirst ? OPS[op](v, xi) : OPS[op](xi, v)));
              expect(Array.from(got), `${dtype} ${op} ${value} valueFirst=${valueFirst} size ${size}`).toEqual(want);
            }
          }
        }
      }
    }
  });

  it('layerNormGrad without affine: null dγ and dβ, the same dx as with affine', async () => {
    await initCpu(options);
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [rows, cols] of [[1, 1], [3, 5], [17, 33]] as const) {
        const x = filled(dtype, rows * cols, 1), g = filled(dtype, rows * cols, 2), gamma = filled(dtype, cols, 3);
        const [dxWith, dxWithout, nulls] = withInputs([x, g, gamma], ([sx, sg, sGamma]) => {
          const { y, mean, rstd } = cpu.kernels.layerNorm(sx!, sGamma!, null, rows, cols, 1e-5);
          const a = cpu.kernels.layerNormGrad(sx!, sGamma!, mean, rstd, sg!, rows, cols, true);
          const b = cpu.kernels.layerNormGrad(sx!, sGamma!, mean, rstd, sg!, rows, cols, false);
          const out = [cpu.readSync!(a.gradX), cpu.readSync!(b.gradX), [b.gradGamma, b.gradBeta]] as const;
          for (const s of [y, mean, rstd, a.gradX, a.gradGamma!, a.gradBeta!, b.gradX]) s.release();
          return out;
        });
        expect(nulls).toEqual([null, null]);
        expect(dxWithout).toEqual(dxWith);
      }
    }
  });
});
