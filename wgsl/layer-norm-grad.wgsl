// layerNormGrad. With x̂ = (x − μ)·rstd and ĝ = g·γ (γ = 1 without HAS_GAMMA):
//   entry `main` (dx, one workgroup per row):  dx = rstd·(ĝ − mean_c(ĝ) − x̂·mean_c(ĝ·x̂)),
//     the two row means from one vec2 tree in workgroup memory (WG a power of two)
//   entry `affine` (dγ, dβ; only when they are needed: a frozen layer norm skips it):
//     dγ[c] = Σ_rows g·x̂,  dβ[c] = Σ_rows g, straight from x, g, μ and rstd (no [rows, cols]
//     intermediate); a workgroup owns COLS = 32 adjacent columns: WG / 32 lanes per column walk
//     the rows (32 consecutive threads read 32 consecutive floats of a row: coalesced), then a
//     tree over the lanes
//
// Bindings:  @binding(0) uniform Params { rows, cols }
//            @binding(1) x [rows·cols]   @binding(2) gamma [cols] (placeholder when absent)
//            @binding(3) mean [rows]     @binding(4) rstd [rows]    @binding(5) g [rows·cols]
//            @binding(6) dx [rows·cols] (main)   @binding(7) dgamma [cols]   @binding(8) dbeta [cols] (affine)
// Overrides: HAS_GAMMA, WG (affine: 256)
// Grid:      main: `rows` workgroups; affine: ceil(cols / 32); split over x and y when above 65535
// Loops:     main: 2 passes over the row, 1 tree; affine: 1 pass of ceil(rows / (WG / 32)), 1 tree of log2(WG / 32)

override HAS_GAMMA: bool = true;

const COLS = 32u;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbeta: array<f32>;

fn gamma_at(c: u32) -> f32 {
  if (HAS_GAMMA) {
    return gamma[c];
  }
  return 1.0;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  let mu = mean[row];
  let rs = rstd[row];
  var acc = vec2f(0.0);
  for (var c = lid; c < p.cols; c += WG) {
    let xhat = (x[base + c] - mu) * rs;
    let gh = g[base + c] * gamma_at(c);
    acc += vec2f(gh, gh * xhat);
  }
  let means = wg_sum2(acc, lid) / f32(p.cols);
  for (var c = lid; c < p.cols; c += WG) {
    let xhat = (x[base + c] - mu) * rs;
    dx[base + c] = rs * (g[base + c] * gamma_at(c) - means.x - xhat * means.y);
  }
}

@compute @workgroup_size(WG)
fn affine(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let col = group_index(wid, nwg) * COLS + lid % COLS;
  let lane = lid / COLS;
  let lanes = WG / COLS;
  var acc = vec2f(0.0); // (Σ g·x̂, Σ g)
  if (col < p.cols) {
    for (var r = lane; r < p.rows; r += lanes) {
      let i = r * p.cols + col;
      acc += vec2f(g[i] * (x[i] - mean[r]) * rstd[r], g[i]);
    }
  }
  // tree over the lanes of each column (uniform control flow: every thread takes part)
  wg_scratch2[lid] = acc;
  workgroupBarrier();
  for (var s = lanes / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      wg_scratch2[lid] += wg_scratch2[lid + s * COLS];
    }
    workgroupBarrier();
  }
  if (lane == 0u && col < p.cols) {
    dgamma[col] = wg_scratch2[lid].x;
    dbeta[col] = wg_scratch2[lid].y;
  }
}
