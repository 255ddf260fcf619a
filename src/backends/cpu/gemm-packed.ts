/**
 * Packed, register-tiled GEMM (the GotoBLAS loop nest, in plain JavaScript):
 *
 *   for jc in n step ≤ NC:               a slab of C's columns (n and k split into equal blocks)
 *     for pc in k step ≤ KC:             pack op(B)[pc:pc+kc, jc:jc+nc] as NR-column panels
 *       for ic in [m0, m1) step MC:      pack op(A)[ic:ic+mc, pc:pc+kc] as MR-row panels
 *         for each NR panel, each MR panel: C[MR, NR] += Apanel[MR, kc]·Bpanel[kc, NR]
 *
 * The MR×NR = 4×3 micro-tile lives in 12 scalar locals (a 4×4 tile spills registers in V8).
 * Both packed operands sit in ONE Float64Array with a fixed size, allocated once: V8 compiles the
 * inner loop much better for a module-level constant array (≈ 6.3 vs 5.2 GFLOP/s measured), and
 * float32 inputs widen to float64 while packing, so one kernel serves both dtypes and every
 * product is accumulated in doubles. Transposes are strides of the packing loop: Xᵀ·dY reads X in
 * place. A float32 C is rounded once per KC-deep slab (C += slab).
 */

type FloatArray = Float32Array | Float64Array;

/**
 * One product C += op(A)·op(B) on flat arrays; op(A) is [m, k], op(B) is [k, n], C is [m, n].
 * Indices are int32 arithmetic (`| 0`): every array must hold fewer than 2³¹ elements.
 */
export interface Gemm {
  /** A stored [m, k], or [k, m] when transA; its matrix starts at aOff. */
  a: FloatArray;
  aOff: number;
  transA: boolean;
  /** B stored [k, n], or [n, k] when transB. */
  b: FloatArray;
  bOff: number;
  transB: boolean;
  /** C stored [m, n], accumulated into (pass zeros for C = op(A)·op(B)). */
  c: FloatArray;
  cOff: number;
  m: number;
  n: number;
  k: number;
}

/** Micro-tile rows and columns (the kernel's 12 locals and its literal 4 and 3 strides depend on them). */
export const MR = 4;
export const NR = 3;
/** Largest depth of a packed slab, rows of a packed A block (multiple of MR), columns of a B slab (multiple of NR). */
export const KC = 256;
export const MC = 64;
export const NC = 1020;

/** Where the B slab starts in the scratch: the A block [MC/MR panels × KC × MR] comes first. */
const B_BASE = MC * KC;
/** [A block | B slab], 2.2 MB, reused by every call; never reassigned (see the header). */
const scratch = new Float64Array(B_BASE + KC * NC);
/** An edge micro-tile's 12 values, before the part inside C is added. */
const tile = new Float64Array(MR * NR);

/**
 * Packs `count` lines (rows of op(A) or columns of op(B)) of depth `depth` into panels of `width`
 * lines: line p, depth l goes to scratch[dst + (p − p % width)·depth + l·width + p % width], read from
 * x[off + p·lineStride + l·depthStride]. A partial last panel keeps stale values in its missing
 * lines: they only reach tile entries outside C, which are never stored.
 */
function pack(x: FloatArray, off: number, lineStride: number, depthStride: number, count: number, depth: number, width: number, dst: number): void {
  const s = scratch;
  for (let p = 0; p < count; p++) {
    let o = (dst + (p - (p % width)) * depth + (p % width)) | 0;
    let src = (off + p * lineStride) | 0;
    for (let l = 0; l < depth; l = (l + 1) | 0) {
      s[o] = x[src]!;
      o = (o + width) | 0;
      src = (src + depthStride) | 0;
    }
  }
}

/**
 * C[mc, nc] (at cOff, row stride ldc) += packed A block [mc, kc] · packed B slab [kc, nc].
 * Each 4×3 tile: c_ij = Σ_l A[i, l]·B[l, j] over 12 locals, then added to C (edge tiles: only
 * the rows and columns inside C).
 */
function macroKernel(mc: number, nc: number, kc: number, c: FloatArray, cOff: number, ldc: number): void {
  const s = scratch;
  for (let j0 = 0; j0 < nc; j0 = (j0 + NR) | 0) {
    const bPanel = (B_BASE + j0 * kc) | 0;
    for (let i0 = 0; i0 < mc; i0 = (i0 + MR) | 0) {
      let pa = (i0 * kc) | 0, pb = bPanel;
      let c00 = 0, c01 = 0, c02 = 0, c10 = 0, c11 = 0, c12 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c30 = 0, c31 = 0, c32 = 0;
      for (let l = kc; l > 0; l = (l - 1) | 0) {
        const a0 = s[pa]!, a1 = s[(pa + 1) | 0]!, a2 = s[(pa + 2) | 0]!, a3 = s[(pa + 3) | 0]!;
        const b0 = s[pb]!, b1 = s[(pb + 1) | 0]!, b2 = s[(pb + 2) | 0]!;
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2;
        // literals, not MR/NR: a module constant costs a TDZ check per iteration in V8
        pa = (pa + 4) | 0;
        pb = (pb + 3) | 0;
      }
      let o = (cOff + i0 * ldc + j0) | 0;
      const rows = mc - i0, cols = nc - j0;
      if (rows < MR || cols < NR) {
        tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c10; tile[4] = c11; tile[5] = c12;
        tile[6] = c20; tile[7] = c21; tile[8] = c22; tile[9] = c30; tile[10] = c31; tile[11] = c32;
        addEdgeTile(c, o, ldc, Math.min(rows, MR), Math.min(cols, NR));
      } else if (c instanceof Float32Array) {
        // the same stores twice, so that each site sees one array type: monomorphic stores are
        // 13% faster at k = 16 (LoRA's [N, r]·[r, o]), where C updates weigh most
        c[o] += c00; c[o + 1] += c01; c[o + 2] += c02; o = (o + ldc) | 0;
        c[o] += c10; c[o + 1] += c11; c[o + 2] += c12; o = (o + ldc) | 0;
        c[o] += c20; c[o + 1] += c21; c[o + 2] += c22; o = (o + ldc) | 0;
        c[o] += c30; c[o + 1] += c31; c[o + 2] += c32;
      } else {
        c[o] += c00; c[o + 1] += c01; c[o + 2] += c02; o = (o + ldc) | 0;
        c[o] += c10; c[o + 1] += c11; c[o + 2] += c12; o = (o + ldc) | 0;
        c[o] += c20; c[o + 1] += c21; c[o + 2] += c22; o = (o + ldc) | 0;
        c[o] += c30; c[o + 1] += c31; c[o + 2] += c32;
      }
    }
  }
}

/** C[o + i·ldc + j] += tile[i·NR + j] for the rows × cols corner of a micro-tile that lies inside C. */
function addEdgeTile(c: FloatArray, o: number, ldc: number, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) c[o + i * ldc + j] += tile[i * NR + j]!;
  }
}

/** Strides of op(A)[i, l] = a[aOff + i·aRow + l·aDepth] and op(B)[l, j] = b[bOff + j·bCol + l·bDepth]. */
export function operandStrides(g: Gemm): { aRow: number; aDepth: number; bCol: number; bDepth: number } {
  return {
    aRow: g.transA ? 1 : g.k,
    aDepth: g.transA ? g.m : 1,
    bCol: g.transB ? g.k : 1,
    bDepth: g.transB ? 1 : g.n,
  };
}

/**
 * C[m0:m1, :] += op(A)[m0:m1, :]·op(B): the rows [m0, m1) of one product. Row ranges are
 * independent, so a caller may split M across workers (each with its own module, hence scratch).
 */
export function gemmRows(g: Gemm, m0: number, m1: number): void {
  const { a, b, c, n, k } = g;
  const { aRow, aDepth, bCol, bDepth } = operandStrides(g);
  const ncStep = blockSize(n, NC, NR), kcStep = blockSize(k, KC, 1);
  for (let jc = 0; jc < n; jc += ncStep) {
    const nc = Math.min(ncStep, n - jc);
    for (let pc = 0; pc < k; pc += kcStep) {
      const kc = Math.min(kcStep, k - pc);
      pack(b, g.bOff + jc * bCol + pc * bDepth, bCol, bDepth, nc, kc, NR, B_BASE);
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = Math.min(MC, m1 - ic);
        pack(a, g.aOff + ic * aRow + pc * aDepth, aRow, aDepth, mc, kc, MR, 0);
        macroKernel(mc, nc, kc, c, g.cOff + ic * n + jc, n);
      }
    }
  }
}

/**
 * Splits `total` into equal blocks of at most `max` (a multiple of `unit`), rounded up to a multiple
 * of `unit`: k = 257 runs as 129 + 128, not 256 + 1, so no slab is too thin to repay its C updates.
 */
function blockSize(total: number, max: number, unit: number): number {
  const blocks = Math.max(1, Math.ceil(total / max));
  return Math.ceil(total / blocks / unit) * unit;
}
