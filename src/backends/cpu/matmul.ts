import type { MatmulParams } from '../backend.ts';

type FloatArray = Float32Array | Float64Array;

/** out [batch, m, n] = op(a)·op(b). Straightforward i-k-j loops; to be replaced by a packed kernel. */
export function matmul(a: FloatArray, b: FloatArray, p: MatmulParams): FloatArray {
  const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride } = p;
  const out = a instanceof Float64Array ? new Float64Array(batch * m * n) : new Float32Array(batch * m * n);
  const row = new Float64Array(n);
  for (let bi = 0; bi < batch; bi++) {
    const aOff = bi * aBatchStride, bOff = bi * bBatchStride, oOff = bi * m * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let l = 0; l < k; l++) {
        const av = a[aOff + (transA ? l * m + i : i * k + l)]!;
        if (transB) for (let j = 0; j < n; j++) row[j]! += av * b[bOff + j * k + l]!;
        else for (let j = 0; j < n; j++) row[j]! += av * b[bOff + l * n + j]!;
      }
      out.set(row, oOff + i * n);
    }
  }
  return out;
}
