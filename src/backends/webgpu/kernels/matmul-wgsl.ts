/**
 * The tiled matmul kernels, generated as WGSL at run time (each source once, on a pipeline's first
 * use; shaders.ts asks for it by name). A variant fixes the workgroup (WG_X × WG_Y threads), the
 * per-thread tile (TM rows × 4·VN columns, TM·VN vec4 registers), TILE_K, and vec4 or f32 global
 * access; everything inside one k tile — tile loads, the TILE_K rank-1 updates, the epilogue — is
 * emitted as straight-line code, so the only loops left are the batch loop and the k loop:
 *  - on a GPU the accumulators are named registers (no indexed array that could go to local
 *    memory) and every workgroup-memory address is a constant offset from one per-thread base;
 *  - on llvmpipe, which ends every loop of an invocation once Σ (iterations + 1) over all of its
 *    loops reaches 65535, the loop budget is small and exact (matmul-plan.ts, tiledLoops).
 * Transposes, the tile-aligned fast path and the epilogue are override constants: one source per
 * variant serves all four transpose combinations and every epilogue. The header comment of each
 * source states its semantics, tiling, bank analysis, bindings and grid.
 */
import { fail } from '../../../errors.ts';
import type { HalfDType } from '../../../half-float.ts';

export interface Variant {
  name: string;
  /** Rows of out per thread (a multiple of 4). */
  TM: number;
  /** vec4 columns of out per thread. */
  VN: number;
  /** Threads along n and along m. */
  WG_X: number;
  WG_Y: number;
  /** k per workgroup-memory tile (a multiple of 8). */
  TILE_K: number;
  /** vec4 global reads and writes (else f32: any shape, any stride). */
  vec: boolean;
  /** Register prefetch of the next k tile (global latency hidden behind this tile's FMAs). */
  prefetch?: boolean;
  /**
   * 'A' (WG_X = 1: a thread owns whole rows) or 'B' (WG_Y = 1: whole columns): that operand has no
   * reuse across threads, so in its natural layout (a [m, k], b [k, n]) it is read straight from
   * global memory instead of through workgroup memory (vec4 variants only).
   */
  direct?: 'A' | 'B';
}

/** Every variant; matmul-plan.ts chooses among them (BM = TM·WG_Y rows, BN = 4·VN·WG_X columns of out per workgroup). */
export const VARIANTS: readonly Variant[] = [
  // GPUs, large outputs: 128×128, 8×8 per thread (16 vec4 accumulators, ~100 registers), 256 threads;
  // TILE_K 8 keeps both tiles within WebGPU's default 16 KiB of workgroup storage
  { name: 'matmul-128x128', TM: 8, VN: 2, WG_X: 16, WG_Y: 16, TILE_K: 8, vec: true, prefetch: true },
  // llvmpipe, general: 8×16 per thread (a workgroup-memory read costs ~10 FMAs there)
  { name: 'matmul-64x128', TM: 8, VN: 4, WG_X: 8, WG_Y: 8, TILE_K: 16, vec: true, prefetch: true },
  { name: 'matmul-64x64', TM: 8, VN: 2, WG_X: 8, WG_Y: 8, TILE_K: 16, vec: true, prefetch: true },
  { name: 'matmul-32x32', TM: 4, VN: 1, WG_X: 8, WG_Y: 8, TILE_K: 16, vec: true },
  // n ≤ 16 (X·A, dY·Bᵀ at LoRA rank ≤ 16). GPUs: both operands staged, split-K for occupancy
  { name: 'matmul-thin-n', TM: 8, VN: 1, WG_X: 4, WG_Y: 16, TILE_K: 16, vec: true, prefetch: true },
  // llvmpipe: a thread owns 8 whole rows × 16 columns, A read straight from global memory
  { name: 'matmul-thin-n-rows', TM: 8, VN: 4, WG_X: 1, WG_Y: 32, TILE_K: 8, vec: true, direct: 'A' },
  // m ≤ 16 ((XA)ᵀ·dY). GPUs: split-K for occupancy
  { name: 'matmul-thin-m', TM: 4, VN: 2, WG_X: 16, WG_Y: 4, TILE_K: 16, vec: true, prefetch: true },
  // llvmpipe: a thread owns 16 whole rows × 8 columns, B read straight from global memory
  { name: 'matmul-thin-m-cols', TM: 16, VN: 2, WG_X: 16, WG_Y: 1, TILE_K: 16, vec: true, direct: 'B' },
  // f32 twins for shapes vec4 cannot read (a row length or batch stride not a multiple of 4)
  { name: 'matmul-f32-64x64', TM: 4, VN: 1, WG_X: 16, WG_Y: 16, TILE_K: 16, vec: false },
  { name: 'matmul-f32-32x32', TM: 4, VN: 1, WG_X: 8, WG_Y: 8, TILE_K: 16, vec: false },
  { name: 'matmul-f32-thin-n', TM: 8, VN: 1, WG_X: 4, WG_Y: 16, TILE_K: 16, vec: false },
  { name: 'matmul-f32-thin-m', TM: 4, VN: 2, WG_X: 16, WG_Y: 4, TILE_K: 16, vec: false },
];

export function variant(name: string): Variant {
  const v = VARIANTS.find((x) => x.name === name);
  if (!v) fail('matmul', `no matmul variant named '${name}'; expected one of ${VARIANTS.map((x) => x.name).join(', ')}`);
  return v;
}

/** Sizes a variant implies (vec4 counts for the workgroup tiles; each tile row padded by one vec4). */
export function tiling(v: Variant) {
  const BM = v.TM * v.WG_Y, BN = 4 * v.VN * v.WG_X, THREADS = v.WG_X * v.WG_Y, KV = v.TILE_K / 4;
  const AS = BM / 4 + 1; //  TRANS_A: A tile [TILE_K][BM/4]
  const AR = KV + 1; //      not TRANS_A: A tile [BM][TILE_K/4]
  const BS = BN / 4 + 1; //  B tile [TILE_K][BN/4]
  const AS_SIZE = Math.max(v.TILE_K * AS, BM * AR), BS_SIZE = v.TILE_K * BS;
  const per = v.vec ? 1 : 4; // global reads per 4 elements
  const LA = (v.TILE_K * BM * per) / 4 / THREADS, LB = (v.TILE_K * BN * per) / 4 / THREADS; // per thread per k tile
  return { BM, BN, THREADS, KV, AS, AR, BS, AS_SIZE, BS_SIZE, LA, LB };
}

/** WebGPU's default maxComputeWorkgroupStorageSize, which every variant stays within. */
const WORKGROUP_BYTES = 16384;

/**
 * Transposed store of one vec4 v holding op(b)[k0 + 4q .. +3, column c] into a k-major tile T
 * (row stride S vec4): T[(4q + i)·S + c/4][c % 4] = v[i].
 */
function storeT(T: string, S: number, q: string, c: string, v: string): string {
  return `{ let at = 4u * ${q} * ${S}u + ${c} / 4u; let w = ${c} % 4u; ${T}[at][w] = ${v}.x; ${T}[at + ${S}u][w] = ${v}.y; ${T}[at + ${2 * S}u][w] = ${v}.z; ${T}[at + ${3 * S}u][w] = ${v}.w; }`;
}

/** One global read of a thread per k tile: its indices, bounds test, source and workgroup-memory store. */
interface Load {
  idx: string;
  cond: string;
  src: string;
  store: (x: string) => string;
}

/** The per-thread tile loads of one k tile, for each layout of a ('t': stored [k, m]; 'n': [m, k]) and b ('t': [n, k]; 'n': [k, n]). */
function tileLoads(v: Variant): { A: Record<'t' | 'n', Load[]>; B: Record<'t' | 'n', Load[]> } {
  const { BM, BN, THREADS, KV, AS, AR, BS, LA, LB } = tiling(v);
  const A: Record<'t' | 'n', Load[]> = { t: [], n: [] }, B: Record<'t' | 'n', Load[]> = { t: [], n: [] };
  for (let s = 0; s < LA; s++) {
    const e = `let e = li + ${s * THREADS}u;`;
    if (v.vec) {
      A.t.push({ idx: `${e} let kk = e / ${BM / 4}u; let r4 = e % ${BM / 4}u;`, cond: 'k0 + kk < kEnd && row0 + 4u * r4 < m',
        src: 'a[aBase + (k0 + kk) * (m / 4u) + row0 / 4u + r4]', store: (x) => `As[kk * ${AS}u + r4] = ${x};` });
      A.n.push({ idx: `${e} let r = e / ${KV}u; let k4 = e % ${KV}u;`, cond: 'row0 + r < m && k0 + 4u * k4 < kEnd',
        src: 'a[aBase + (row0 + r) * (k / 4u) + k0 / 4u + k4]', store: (x) => `As[r * ${AR}u + k4] = ${x};` });
    } else {
      A.t.push({ idx: `${e} let kk = e / ${BM}u; let r = e % ${BM}u;`, cond: 'k0 + kk < kEnd && row0 + r < m',
        src: 'a[aBase + (k0 + kk) * m + row0 + r]', store: (x) => `As[kk * ${AS}u + r / 4u][r % 4u] = ${x};` });
      A.n.push({ idx: `${e} let r = e / ${v.TILE_K}u; let kk = e % ${v.TILE_K}u;`, cond: 'row0 + r < m && k0 + kk < kEnd',
        src: 'a[aBase + (row0 + r) * k + k0 + kk]', store: (x) => `As[r * ${AR}u + kk / 4u][kk % 4u] = ${x};` });
    }
  }
  for (let s = 0; s < LB; s++) {
    const e = `let e = li + ${s * THREADS}u;`;
    if (v.vec) {
      B.t.push({ idx: `${e} let q = (e % 2u) + 2u * (e / ${2 * BN}u); let cc = (e / 2u) % ${BN}u;`, cond: 'col0 + cc < n && k0 + 4u * q < kEnd',
        src: 'b[bBase + (col0 + cc) * (k / 4u) + k0 / 4u + q]', store: (x) => storeT('Bs', BS, 'q', 'cc', x) });
      B.n.push({ idx: `${e} let kk = e / ${BN / 4}u; let c4 = e % ${BN / 4}u;`, cond: 'k0 + kk < kEnd && col0 + 4u * c4 < n',
        src: 'b[bBase + (k0 + kk) * (n / 4u) + col0 / 4u + c4]', store: (x) => `Bs[kk * ${BS}u + c4] = ${x};` });
    } else {
      B.t.push({ idx: `${e} let kk = (e % 8u) + 8u * (e / ${8 * BN}u); let cc = (e / 8u) % ${BN}u;`, cond: 'col0 + cc < n && k0 + kk < kEnd',
        src: 'b[bBase + (col0 + cc) * k + k0 + kk]', store: (x) => `Bs[kk * ${BS}u + cc / 4u][cc % 4u] = ${x};` });
      B.n.push({ idx: `${e} let kk = e / ${BN}u; let cc = e % ${BN}u;`, cond: 'k0 + kk < kEnd && col0 + cc < n',
        src: 'b[bBase + (k0 + kk) * n + col0 + cc]', store: (x) => `Bs[kk * ${BS}u + cc / 4u][cc % 4u] = ${x};` });
    }
  }
  // a direct operand in its natural layout is not staged
  if (v.direct === 'A') A.n.length = 0;
  if (v.direct === 'B') B.n.length = 0;
  return { A, B };
}

/** The shader name of a variant reading and writing a 16-bit dtype (packed: 4 elements per vec2u). */
export function halfVariantName(v: Variant, half: HalfDType): string {
  return `${v.name}-${half}`;
}

/**
 * WGSL that widens 4 packed 16-bit elements (a vec2u) to a vec4f, exactly, and rounds a vec4f back
 * to them (common.wgsl's integer conversions: round to nearest even, as a cast).
 */
function halfIo(half: HalfDType): string[] {
  const [widen, narrow] = half === 'float16' ? ['f16_to_f32', 'f32_to_f16'] : ['bf16_to_f32', 'f32_to_bf16'];
  return [
    `/// 4 ${half} elements (element 4q + i in half i % 2 of word i / 2) → vec4f.`,
    'fn unpack4(w: vec2u) -> vec4f {',
    `  return bitcast<vec4f>(vec4u(${widen}(w.x & 0xffffu), ${widen}(w.x >> 16u), ${widen}(w.y & 0xffffu), ${widen}(w.y >> 16u)));`,
    '}',
    '',
    `/// vec4f → 4 ${half} elements, each rounded once.`,
    'fn pack4(v: vec4f) -> vec2u {',
    '  let u = bitcast<vec4u>(v);',
    `  return vec2u(${narrow}(u.x) | (${narrow}(u.y) << 16u), ${narrow}(u.z) | (${narrow}(u.w) << 16u));`,
    '}',
    '',
  ];
}

/**
 * The WGSL of a variant (without the common.wgsl prelude, which shaders.ts puts in front). With
 * `half` (vec4 variants only), a, b, out, bias and c hold that 16-bit dtype packed two per u32
 * (a vec2u per 4 elements): tile loads widen them to float32 exactly, the products accumulate in
 * float32, and the epilogue rounds alpha·acc (+ bias) (+ c) once — the result of casting every
 * operand to float32, multiplying and casting back, bit for bit, without the float32 copies.
 */
export function matmulWgsl(v: Variant, half: HalfDType | null = null): string {
  const t = tiling(v);
  const { TM, VN, WG_X, WG_Y, TILE_K } = v;
  const { BM, BN, THREADS, KV, AS, AR, BS, AS_SIZE, BS_SIZE, LA, LB } = t;
  if (TM % 4 || TILE_K % 8 || !Number.isInteger(LA) || !Number.isInteger(LB) || LA < 1 || LB < 1 || THREADS > 256 ||
    (AS_SIZE + BS_SIZE) * 16 > WORKGROUP_BYTES || (v.direct && !v.vec) || (v.direct === 'A' && WG_X !== 1) || (v.direct === 'B' && WG_Y !== 1)) {
    fail('matmul', `variant ${v.name} is inconsistent: ${JSON.stringify(v)}`);
  }
  if (half && !v.vec) fail('matmul', `variant ${v.name} reads f32 elements; 16-bit operands need a vec4 variant`);
  /** Registers and staged tiles: vec4f or f32. Bindings: the same, or vec2u (4 packed 16-bit elements). */
  const G = v.vec ? 'vec4f' : 'f32', BIND = half ? 'vec2u' : G;
  /** A global read as float32, and a float32 result as stored. */
  const rd = (x: string) => (half ? `unpack4(${x})` : x), wr = (x: string) => (half ? `pack4(${x})` : x);
  const ZERO = v.vec ? 'vec4f(0.0)' : '0.0';
  const L: string[] = [];
  const o = (...lines: string[]) => L.push(...lines);
  // llvmpipe forms its 8-lane SIMD groups along workgroup x only: a variant narrower than 8 in x runs
  // as a 1-D workgroup and derives (tx, ty) from the linear index (GPUs form warps that way anyway)
  const flat = WG_X < 8;
  const ty = WG_Y === 1 ? '0u' : flat ? `li / ${WG_X}u` : 'lid.y';
  const tx = WG_X === 1 ? '0u' : flat ? `li % ${WG_X}u` : 'lid.x';
  const acc = (i: number, j: number) => `acc_${i}_${j}`;
  const zeroInit = Math.ceil(AS_SIZE / THREADS) + 1 + Math.ceil(BS_SIZE / THREADS) + 1;
  const aTiles = v.direct === 'A' ? 'read straight from a when stored [m, k] (a thread owns whole rows: no reuse to stage)' : '';
  const bTiles = v.direct === 'B' ? 'read straight from b when stored [k, n] (a thread owns whole columns: no reuse to stage)' : '';

  o(`// ${v.name}: generated by src/backends/webgpu/kernels/matmul-wgsl.ts.`,
    '//',
    '// out[z] = alpha·(op(a[z])·op(b[z])) (+ bias[col]) (+ c[z]) for z < zCount = batch·splits; op(a) [m, k] is a',
    '// stored [m, k] (TRANS_A: [k, m]), op(b) [k, n] is b stored [k, n] (TRANS_B: [n, k]); matrix z of a starts at',
    '// (z / splits)·aBatchStride floats (0: shared), likewise b; out and c are [zCount, m, n], bias [n].',
    '// Split-K: z = batch index·splits + s sums only k in [s·kChunk, min(k, (s + 1)·kChunk)); the host passes',
    '// alpha = 1 and no epilogue, then adds the splits in order with matmul-reduce.wgsl.',
    '//',
    `// Tiling: a ${WG_X}×${WG_Y} workgroup (tx along n, ty along m${flat ? `; launched 1-D as ${THREADS}` : ''}) computes a ${BM}×${BN} tile of out,`,
    `// each thread ${TM} rows × ${4 * VN} columns in ${TM * VN} vec4 registers: rows 4·(g·${WG_Y} + ty) + r (g < ${TM / 4}, r < 4),`,
    `// vec4 columns j·${WG_X} + tx (j < ${VN}); neighbouring threads read neighbouring vec4s of the tiles and write`,
    `// neighbouring vec4s of out. k advances ${TILE_K} at a time through ${(AS_SIZE + BS_SIZE) * 16} bytes of workgroup memory, each tile in`,
    '// the layout it is read in, vec4 along the contiguous dimension, rows padded by one vec4:',
    `//   TRANS_A:     As[kk·${AS} + r4] = op(a)[row0 + 4·r4 .. +3, k0 + kk]   one k step = ${TM / 4} vec4 of A × ${VN} vec4 of B`,
    `//   not TRANS_A: As[r·${AR} + k4] = op(a)[row0 + r, k0 + 4·k4 .. +3]    4 k steps = ${TM} vec4 of A × ${4 * VN} vec4 of B`,
    `//   Bs[kk·${BS} + c4] = op(b)[k0 + kk, col0 + 4·c4 .. +3]`);
  if (aTiles) o(`// A is ${aTiles}.`);
  if (bTiles) o(`// B is ${bTiles}.`);
  o('// Bank conflicts (32 banks of 4 bytes; a 128-bit access is served 8 threads at a time): B reads are');
  if (WG_X >= 8) o('// consecutive vec4s across tx; A reads are one broadcast vec4 per ty (8 consecutive threads share ty).');
  else if (WG_X === 4) o(`// consecutive vec4s across tx; A reads: a phase spans 2 ty, rows 4·${AR} ≡ 4 (mod 8) vec4 apart (TRANS_A: consecutive).`);
  else o('// broadcasts; A reads are consecutive vec4s across ty (TRANS_A).');
  o(`// Tile writes are consecutive vec4s, except b stored [n, k] (TRANS_B), transposed on the way in: ${v.vec ? 'thread pairs' : '8 threads'}`,
    `// read ${v.vec ? '2 vec4 (32 contiguous bytes) along k of one column and write scalars to banks 16·(q % 2) + 4·i + c' : '8 contiguous floats along k of one column and write them to banks 4·kk + c'}`,
    `// (mod 32; Bs rows are ${BS * 4} ≡ 4 floats apart): all 32 banks once per warp.`,
    v.vec
      ? '// Global access is vec4: n % 4 = 0; k % 4 = 0 (m % 4 = 0 instead if TRANS_A; also k % 4 if TRANS_B); batch strides % 4 = 0.'
      : '// Global access is f32: any shape, any batch stride.',
    '//',
    '// Bindings:  @binding(0) uniform Params { m, n, k, zCount, aBatchStride, bBatchStride, splits, kChunk, alpha,',
    '//            epilogue (bit 0: + bias, bit 1: + c) }',
    `//            @binding(1) a: array<${BIND}>  @binding(2) b: array<${BIND}>  @binding(3) out: array<${BIND}>`,
    `//            @binding(4) bias: array<${BIND}> [n]  @binding(5) c: array<${BIND}> (any buffer where the epilogue leaves them out)`,
    ...(half ? [`//            ${half}: 4 elements per vec2u, widened on load, the epilogue's result rounded once on store.`] : []),
    `// Overrides: TRANS_A, TRANS_B; ALIGNED (m % ${BM} = 0, n % ${BN} = 0, k % ${TILE_K} = 0, kChunk % ${TILE_K} = 0: no bounds checks).`,
    '//            (The epilogue is a uniform, not an override: each override set is a pipeline compiled anew.)',
    `// Grid:      (ceil(n / ${BN}), ceil(m / ${BM}), min(zCount, 65535)); z loops over zCount.`,
    `// Loops:     zIter + 1 (z) + zIter·(ceil(kChunk / ${TILE_K}) + 1) (k) + ${zeroInit} (Dawn's zero-init of As, Bs), zIter = ceil(zCount / 65535).`,
    '',
    'override TRANS_A: bool = false;',
    'override TRANS_B: bool = false;',
    'override ALIGNED: bool = false;',
    '',
    'struct Params { m: u32, n: u32, k: u32, zCount: u32, aBatchStride: u32, bBatchStride: u32, splits: u32, kChunk: u32, alpha: f32, epilogue: u32 }',
    '',
    '@group(0) @binding(0) var<uniform> p: Params;',
    `@group(0) @binding(1) var<storage, read> a: array<${BIND}>;`,
    `@group(0) @binding(2) var<storage, read> b: array<${BIND}>;`,
    `@group(0) @binding(3) var<storage, read_write> out: array<${BIND}>;`,
    `@group(0) @binding(4) var<storage, read> bias: array<${BIND}>;`,
    `@group(0) @binding(5) var<storage, read> c: array<${BIND}>;`,
    '',
    `var<workgroup> As: array<vec4f, ${AS_SIZE}>;`,
    `var<workgroup> Bs: array<vec4f, ${BS_SIZE}>;`,
    '',
    ...(half ? halfIo(half) : []));

  const loads = tileLoads(v);
  const branch = (flag: string, tl: string[], nl: string[]) => [`  if (${flag}) {`, ...tl.map((x) => `    ${x}`), '  } else {', ...nl.map((x) => `    ${x}`), '  }'];
  const range = `op(a)[row0 .. +${BM}, k0 .. +${TILE_K}] and op(b)[k0 .. +${TILE_K}, col0 .. +${BN}] (zero outside the matrices and past kEnd)`;
  if (!v.prefetch) {
    const one = (l: Load) => `{ ${l.idx} var v = ${ZERO}; if (ALIGNED || (${l.cond})) { v = ${rd(l.src)}; } ${l.store('v')} }`;
    o(`/// Copies ${range} into As and Bs.`,
      'fn load_tiles(li: u32, aBase: u32, bBase: u32, row0: u32, col0: u32, k0: u32, kEnd: u32) {',
      '  let m = p.m; let n = p.n; let k = p.k;',
      ...branch('TRANS_A', loads.A.t.map(one), loads.A.n.map(one)),
      ...branch('TRANS_B', loads.B.t.map(one), loads.B.n.map(one)),
      '}');
  } else {
    const fetch = (name: string) => (l: Load, s: number) => `{ ${l.idx} st.${name}${s} = ${ZERO}; if (ALIGNED || (${l.cond})) { st.${name}${s} = ${rd(l.src)}; } }`;
    const stash = (name: string) => (l: Load, s: number) => `{ ${l.idx} ${l.store(`st.${name}${s}`)} }`;
    const fields = [...Array(LA).keys()].map((s) => `a${s}: ${G}`).concat([...Array(LB).keys()].map((s) => `b${s}: ${G}`));
    o('/// A thread\'s share of the next k tile, held in registers while the current tile is multiplied.',
      `struct Staged { ${fields.join(', ')} }`,
      '',
      `/// Reads this thread's share of ${range}.`,
      'fn fetch(li: u32, aBase: u32, bBase: u32, row0: u32, col0: u32, k0: u32, kEnd: u32) -> Staged {',
      '  let m = p.m; let n = p.n; let k = p.k;',
      '  var st: Staged;',
      ...branch('TRANS_A', loads.A.t.map(fetch('a')), loads.A.n.map(fetch('a'))),
      ...branch('TRANS_B', loads.B.t.map(fetch('b')), loads.B.n.map(fetch('b'))),
      '  return st;',
      '}',
      '',
      '/// Writes a fetched share into As and Bs (B transposed when TRANS_B).',
      'fn stash(li: u32, st: Staged) {',
      ...branch('TRANS_A', loads.A.t.map(stash('a')), loads.A.n.map(stash('a'))),
      ...branch('TRANS_B', loads.B.t.map(stash('b')), loads.B.n.map(stash('b'))),
      '}');
  }
  o('');
  if (v.direct === 'A') {
    o('/// op(a)[row0 + r, k0 + 4·k4 .. +3] straight from a (stored [m, k]).',
      'fn ra(aBase: u32, row0: u32, r: u32, k0: u32, k4: u32, kEnd: u32) -> vec4f {',
      '  let row = row0 + r; let kq = k0 / 4u + k4;',
      `  if (ALIGNED || (row < p.m && 4u * kq < kEnd)) { return ${rd('a[aBase + row * (p.k / 4u) + kq]')}; }`,
      '  return vec4f(0.0);',
      '}',
      '');
  } else if (v.direct === 'B') {
    o('/// op(b)[k0 + kk, col0 + 4·c4 .. +3]: straight from b when stored [k, n], else from the staged tile (TRANS_B).',
      'fn rb(bBase: u32, col0: u32, c4: u32, k0: u32, kk: u32, kEnd: u32) -> vec4f {',
      `  if (TRANS_B) { return Bs[kk * ${BS}u + c4]; }`,
      '  let kg = k0 + kk; let cq = col0 / 4u + c4;',
      `  if (ALIGNED || (kg < kEnd && 4u * cq < p.n)) { return ${rd('b[bBase + kg * (p.n / 4u) + cq]')}; }`,
      '  return vec4f(0.0);',
      '}',
      '');
  }

  // ---- main: the z loop, the k loop, the unrolled tile product, the epilogue
  o(`@compute @workgroup_size(${flat ? `${THREADS}` : `${WG_X}, ${WG_Y}`})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,',
    '        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {',
    `  let tx = ${tx};`,
    `  let ty = ${ty};`,
    `  let row0 = wid.y * ${BM}u;`,
    `  let col0 = wid.x * ${BN}u;`,
    '  let m = p.m; let n = p.n;',
    '  for (var z = wid.z; z < p.zCount; z += nwg.z) {',
    '    let bz = z / p.splits;',
    '    let kBegin = (z % p.splits) * p.kChunk;',
    '    let kEnd = min(p.k, kBegin + p.kChunk);',
    `    let aBase = bz * (p.aBatchStride${v.vec ? ' / 4u' : ''});`,
    `    let bBase = bz * (p.bBatchStride${v.vec ? ' / 4u' : ''});`);
  for (let i = 0; i < TM; i++) o(`    ${Array.from({ length: VN }, (_, j) => `var ${acc(i, j)} = vec4f(0.0);`).join(' ')}`);
  if (v.prefetch) {
    o('    // register prefetch: tile t + 1 is read from global memory while tile t is multiplied',
      '    stash(li, fetch(li, aBase, bBase, row0, col0, kBegin, kEnd));',
      '    workgroupBarrier();',
      `    for (var k0 = kBegin; k0 < kEnd; k0 += ${TILE_K}u) {`,
      `      let kn = k0 + ${TILE_K}u;`,
      '      var st: Staged;',
      '      if (kn < kEnd) { st = fetch(li, aBase, bBase, row0, col0, kn, kEnd); }');
  } else {
    o(`    for (var k0 = kBegin; k0 < kEnd; k0 += ${TILE_K}u) {`,
      '      load_tiles(li, aBase, bBase, row0, col0, k0, kEnd);',
      '      workgroupBarrier();');
  }
  const bRead = (kk: number, j: number) => (v.direct === 'B' ? `rb(bBase, col0, ${j * WG_X}u + tx, k0, ${kk}u, kEnd)` : `Bs[${kk * BS + j * WG_X}u + tx]`);
  o('      if (TRANS_A) {');
  for (let kk = 0; kk < TILE_K; kk++) {
    o('        {', `          ${Array.from({ length: VN }, (_, j) => `let b${j} = ${bRead(kk, j)};`).join(' ')}`);
    for (let g = 0; g < TM / 4; g++) {
      o(`          { let av = As[${kk * AS + g * WG_Y}u + ty];`);
      for (let r = 0; r < 4; r++) o(`            ${Array.from({ length: VN }, (_, j) => `${acc(4 * g + r, j)} = fma(vec4f(av[${r}]), b${j}, ${acc(4 * g + r, j)});`).join(' ')}`);
      o('          }');
    }
    o('        }');
  }
  o('      } else {');
  for (let k4 = 0; k4 < KV; k4++) {
    o('        {');
    for (let r = 0; r < 4; r++) o(`          ${Array.from({ length: VN }, (_, j) => `let b${r}_${j} = ${bRead(4 * k4 + r, j)};`).join(' ')}`);
    for (let i = 0; i < TM; i++) {
      const row = Math.floor(i / 4) * WG_Y * 4 + (i % 4);
      o(v.direct === 'A' ? `          { let av = ra(aBase, row0, ${row}u + 4u * ty, k0, ${k4}u, kEnd);` : `          { let av = As[${row * AR + k4}u + ty * ${4 * AR}u];`);
      for (let j = 0; j < VN; j++) {
        const x = acc(i, j);
        o(`            ${x} = fma(vec4f(av.x), b0_${j}, ${x}); ${x} = fma(vec4f(av.y), b1_${j}, ${x}); ${x} = fma(vec4f(av.z), b2_${j}, ${x}); ${x} = fma(vec4f(av.w), b3_${j}, ${x});`);
      }
      o('          }');
    }
    o('        }');
  }
  o('      }', '      workgroupBarrier();');
  if (v.prefetch) o('      if (kn < kEnd) {', '        stash(li, st);', '        workgroupBarrier();', '      }');
  o('    }');
  // epilogue: out = alpha·acc (+ bias) (+ c), vec4 or per element
  o(`    let outBase = z * (m * n${v.vec ? ' / 4u' : ''});`,
    '    let hasBias = (p.epilogue & 1u) != 0u;',
    '    let hasC = (p.epilogue & 2u) != 0u;');
  for (let i = 0; i < TM; i++) {
    o(`    { let row = row0 + 4u * (${Math.floor(i / 4) * WG_Y}u + ty) + ${i % 4}u;`);
    for (let j = 0; j < VN; j++) {
      if (v.vec) {
        o(`      { let c4 = col0 / 4u + ${j * WG_X}u + tx;`,
          '        if (ALIGNED || (row < m && 4u * c4 < n)) {',
          '          let idx = outBase + row * (n / 4u) + c4;',
          `          var v = p.alpha * ${acc(i, j)};`,
          `          if (hasBias) { v += ${rd('bias[c4]')}; }`,
          `          if (hasC) { v += ${rd('c[idx]')}; }`,
          `          out[idx] = ${wr('v')};`,
          '        } }');
      } else {
        o(`      { let col = col0 + 4u * (${j * WG_X}u + tx); let r = p.alpha * ${acc(i, j)};`);
        for (let w = 0; w < 4; w++) {
          o(`        if (row < m && col + ${w}u < n) {`,
            `          let idx = outBase + row * n + col + ${w}u;`,
            `          var v = r[${w}];`,
            `          if (hasBias) { v += bias[col + ${w}u]; }`,
            '          if (hasC) { v += c[idx]; }',
            '          out[idx] = v;',
            '        }');
        }
        o('      }');
      }
    }
    o('    }');
  }
  o('  }', '}');
  return L.join('\n') + '\n';
}
