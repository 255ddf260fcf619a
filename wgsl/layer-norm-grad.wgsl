// layerNormGrad, the per-row part. With x̂ = (x − μ)·rstd and ĝ = g·γ (γ = 1 without HAS_GAMMA):
//   dx = rstd·(ĝ − mean_c(ĝ) − x̂·mean_c(ĝ·x̂))
//   gxhat = g·x̂, which the host then sums over rows with reduce.wgsl: dγ = Σ_rows g·x̂ (and
//   dβ = Σ_rows g directly from g), so the column sums run as parallel tree reductions.
// One workgroup per row; the two row sums are one vec2 tree in workgroup memory (WG a power of two).
//
// Bindings:  @binding(0) uniform Params { rows, cols }
//            @binding(1) x [rows·cols]   @binding(2) gamma [cols] (placeholder when absent)
//            @binding(3) mean [rows]     @binding(4) rstd [rows]    @binding(5) g [rows·cols]
//            @binding(6) dx [rows·cols]  @binding(7) gxhat [rows·cols]
// Overrides: HAS_GAMMA, WG
// Grid:      `rows` workgroups, split over x and y when above 65535 (row = y·X + x)

override HAS_GAMMA: bool = true;

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
@group(0) @binding(7) var<storage, read_write> gxhat: array<f32>;

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
    gxhat[base + c] = g[base + c] * xhat;
  }
  let means = wg_sum2(acc, lid) / f32(p.cols);
  for (var c = lid; c < p.cols; c += WG) {
    let xhat = (x[base + c] - mu) * rs;
    dx[base + c] = rs * (g[base + c] * gamma_at(c) - means.x - xhat * means.y);
  }
}
