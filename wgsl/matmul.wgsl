// matmul: out [batch, m, n] = op(a)·op(b), op = identity or transpose (TRANS_A: a is stored [k, m];
// TRANS_B: b is stored [n, k]). Matrix z of a starts at z·aBatchStride (0: shared by every batch),
// likewise b; out is contiguous.
//
// Tiling: a workgroup of WG_X × WG_Y threads computes a (4·WG_Y) × (4·WG_X) tile of out, each
// thread a 4 × 4 block; op(a) and op(b) stream through workgroup memory TILE_K columns/rows at a
// time. Out-of-range elements load as 0 and are not written, so every size is correct.
//
// Bindings:  @binding(0) uniform Params { m, n, k, batch, aBatchStride, bBatchStride }
//            @binding(1) a: array<f32>   @binding(2) b: array<f32>   @binding(3) out: array<f32>
// Overrides: TRANS_A, TRANS_B, WG_X, WG_Y, TILE_K
// Grid:      (ceil(n / (4·WG_X)), ceil(m / (4·WG_Y)), min(batch, 65535)); z loops over the batch

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override TILE_K: u32 = 16u;

const MICRO: u32 = 4u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  batch: u32,
  aBatchStride: u32,
  bBatchStride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// As[kk·TM + r] = op(a)[row0 + r, k0 + kk];  Bs[kk·TN + c] = op(b)[k0 + kk, col0 + c]
var<workgroup> As: array<f32, TILE_K * WG_Y * MICRO>;
var<workgroup> Bs: array<f32, TILE_K * WG_X * MICRO>;

/// op(a)[row, col] of the matrix at base, 0 outside [m, k].
fn load_a(base: u32, row: u32, col: u32) -> f32 {
  if (row >= p.m || col >= p.k) {
    return 0.0;
  }
  if (TRANS_A) {
    return a[base + col * p.m + row];
  }
  return a[base + row * p.k + col];
}

/// op(b)[row, col] of the matrix at base, 0 outside [k, n].
fn load_b(base: u32, row: u32, col: u32) -> f32 {
  if (row >= p.k || col >= p.n) {
    return 0.0;
  }
  if (TRANS_B) {
    return b[base + col * p.k + row];
  }
  return b[base + row * p.n + col];
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let TM = WG_Y * MICRO;
  let TN = WG_X * MICRO;
  let threads = WG_X * WG_Y;
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  for (var z = wid.z; z < p.batch; z += nwg.z) {
    let aBase = z * p.aBatchStride;
    let bBase = z * p.bBatchStride;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
      // consecutive threads read consecutive addresses of the stored layout
      for (var e = li; e < TM * TILE_K; e += threads) {
        var r = e / TILE_K;
        var kk = e % TILE_K;
        if (TRANS_A) {
          r = e % TM;
          kk = e / TM;
        }
        As[kk * TM + r] = load_a(aBase, row0 + r, k0 + kk);
      }
      for (var e = li; e < TN * TILE_K; e += threads) {
        var c = e % TN;
        var kk = e / TN;
        if (TRANS_B) {
          c = e / TILE_K;
          kk = e % TILE_K;
        }
        Bs[kk * TN + c] = load_b(bBase, k0 + kk, col0 + c);
      }
      workgroupBarrier();
      for (var kk = 0u; kk < TILE_K; kk++) {
        var av: array<f32, 4>;
        var bv: array<f32, 4>;
        for (var i = 0u; i < MICRO; i++) {
          av[i] = As[kk * TM + lid.y * MICRO + i];
          bv[i] = Bs[kk * TN + lid.x * MICRO + i];
        }
        for (var i = 0u; i < MICRO; i++) {
          for (var j = 0u; j < MICRO; j++) {
            acc[i * MICRO + j] += av[i] * bv[j];
          }
        }
      }
      workgroupBarrier();
    }
    let outBase = z * p.m * p.n;
    for (var i = 0u; i < MICRO; i++) {
      let row = row0 + lid.y * MICRO + i;
      for (var j = 0u; j < MICRO; j++) {
        let col = col0 + lid.x * MICRO + j;
        if (row < p.m && col < p.n) {
          out[outBase + row * p.n + col] = acc[i * MICRO + j];
        }
      }
    }
  }
}
