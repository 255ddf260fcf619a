// layerNorm over the last axis of x [rows, cols] (biased variance, two passes as the CPU):
//   μ = Σ x / cols;  σ² = Σ (x − μ)² / cols;  rstd = 1/√(σ² + eps)
//   y = (x − μ)·rstd·γ + β   (γ = 1 without HAS_GAMMA, β = 0 without HAS_BETA)
// One workgroup per row; sums are trees in workgroup memory (WG a power of two).
//
// Bindings:  @binding(0) uniform Params { rows, cols, eps }
//            @binding(1) x [rows·cols]   @binding(2) gamma [cols]   @binding(3) beta [cols]
//            @binding(4) y [rows·cols]   @binding(5) mean [rows]    @binding(6) rstd [rows]
//            (gamma and beta are bound to a placeholder buffer when absent)
// Overrides: HAS_GAMMA, HAS_BETA, WG
// Grid:      `rows` workgroups, split over x and y when above 65535 (row = y·X + x)

override HAS_GAMMA: bool = true;
override HAS_BETA: bool = true;

struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  let n = f32(p.cols);
  var acc = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    acc += x[base + c];
  }
  let mu = wg_sum(acc, lid) / n;
  acc = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    let d = x[base + c] - mu;
    acc += d * d;
  }
  let rs = 1.0 / sqrt(wg_sum(acc, lid) / n + p.eps);
  for (var c = lid; c < p.cols; c += WG) {
    var v = (x[base + c] - mu) * rs;
    if (HAS_GAMMA) {
      v *= gamma[c];
    }
    if (HAS_BETA) {
      v += beta[c];
    }
    y[base + c] = v;
  }
  if (lid == 0u) {
    mean[row] = mu;
    rstd[row] = rs;
  }
}
