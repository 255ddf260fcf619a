import type { MatmulEpilogue, MatmulKernels, MatmulParams } from '../../backend.ts';
import { like, type FloatArray } from '../float-array.ts';
import { gemmRows, operandStrides, type Gemm } from '../gemm-packed.ts';
import { floats, type Cpu } from './cpu.ts';

/**
 * out [batch, m, n] = op(a)·op(b), batch matrix by batch matrix (a stride of 0 shares the operand).
 * Everything takes the packed kernel (gemm-packed.ts) except a single row, and a single column of
 * a transposed B, where packing a whole operand for one output line costs more than the product
 * (measured at [1, 1024]·[1024, 1024]: 1.6 ms unpacked, 3.8 ms packed).
 */
export function matmul(a: FloatArray, b: FloatArray, p: MatmulParams): FloatArray {
  const { batch, m, n, k } = p;
  const c = like(a, batch * m * n);
  const g: Gemm = { a, aOff: 0, transA: p.transA, b, bOff: 0, transB: p.transB, c, cOff: 0, m, n, k };
  const packed = !(m === 1 || (n === 1 && p.transB));
  for (let bi = 0; bi < batch; bi++) {
    g.aOff = bi * p.aBatchStride;
    g.bOff = bi * p.bBatchStride;
    g.cOff = bi * m * n;
    if (packed) gemmRows(g, 0, m);
    else if (p.transB) gemmDots(g, 0, m);
    else gemmAxpy(g, 0, m);
  }
  return c;
}

/** B stored [k, n]: row_i = Σ_l op(A)[i, l]·B[l, :] in a float64 row, then C[i, :] += row_i. */
function gemmAxpy(g: Gemm, m0: number, m1: number): void {
  const { a, b, c, n, k } = g;
  const { aRow, aDepth } = operandStrides(g);
  const row = new Float64Array(n);
  for (let i = m0; i < m1; i++) {
    row.fill(0);
    for (let l = 0; l < k; l++) {
      const av = a[g.aOff + i * aRow + l * aDepth]!;
      const bl = g.bOff + l * n;
      for (let j = 0; j < n; j++) row[j]! += av * b[bl + j]!;
    }
    const o = g.cOff + i * n;
    for (let j = 0; j < n; j++) c[o + j]! += row[j]!;
  }
}

/** B stored [n, k]: C[i, j] += Σ_l op(A)[i, l]·B[j, l], a dot product over two runs, in a double. */
function gemmDots(g: Gemm, m0: number, m1: number): void {
  const { a, b, c, n, k } = g;
  const { aRow, aDepth } = operandStrides(g);
  for (let i = m0; i < m1; i++) {
    const ai = g.aOff + i * aRow;
    for (let j = 0; j < n; j++) {
      const bj = g.bOff + j * k;
      let acc = 0;
      for (let l = 0; l < k; l++) acc += a[ai + l * aDepth]! * b[bj + l]!;
      c[g.cOff + i * n + j]! += acc;
    }
  }
}

/** In place: out [batch, m, n] = alpha·out + bias[j] + c (out holds the product; the sum is rounded once to its dtype). */
function epilogue(out: FloatArray, n: number, epi: MatmulEpilogue): FloatArray {
  const alpha = epi.alpha ?? 1, bias = epi.bias ? floats(epi.bias) : null, c = epi.c ? floats(epi.c) : null;
  if (alpha === 1 && !bias && !c) return out;
  for (let i = 0; i < out.length; i++) out[i] = alpha * out[i]! + (bias ? bias[i % n]! : 0) + (c ? c[i]! : 0);
  return out;
}

export function matmulKernels(cpu: Cpu): MatmulKernels {
  return { matmul: (a, b, p, epi = {}) => cpu.adopt(epilogue(matmul(floats(a), floats(b), p), p.n, epi)) };
}
