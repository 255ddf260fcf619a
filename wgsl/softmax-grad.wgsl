// softmaxGrad: dx from the forward output y [rows, cols] and the upstream gradient g:
//   softmax:     dx = y·(g − Σ_c g·y)
//   log-softmax: dx = g − exp(y)·Σ_c g
// One workgroup per row; the row sum is a tree in workgroup memory (WG a power of two).
//
// Bindings:  @binding(0) uniform Params { rows, cols }
//            @binding(1) y: array<f32>   @binding(2) g: array<f32>   @binding(3) dx: array<f32> [rows·cols]
// Overrides: LOG, WG
// Grid:      `rows` workgroups, split over x and y when above 65535 (row = y·X + x)

override LOG: bool = false;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  var dot = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    dot += select(g[base + c] * y[base + c], g[base + c], LOG);
  }
  dot = wg_sum(dot, lid);
  for (var c = lid; c < p.cols; c += WG) {
    let i = base + c;
    if (LOG) {
      dx[i] = g[i] - exp(y[i]) * dot;
    } else {
      dx[i] = y[i] * (g[i] - dot);
    }
  }
}
