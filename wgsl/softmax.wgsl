// softmax: row-wise softmax (or log-softmax when LOG) of x [rows, cols], shifted by the row max:
//   m = max_c x[c];  s = Σ_c exp(x[c] − m);  y = exp(x − m)/s,  or  log: y = (x − m) − ln s
// (not x − (m + ln s): for a large m, m + ln s rounds ln s to a multiple of ulp(m))
// Two passes over the row: m and s together, online (common.wgsl, lse_push: one exp per element),
// then y. One workgroup per row; (m, s) is merged over the workgroup by a tree (WG a power of two).
//
// Bindings:  @binding(0) uniform Params { rows, cols }
//            @binding(1) x: array<f32> [rows·cols]   @binding(2) y: array<f32> [rows·cols]
// Overrides: LOG, WG
// Grid:      `rows` workgroups, split over x and y when above 65535 (row = y·X + x)
// Loops:     2 passes over the row, 1 tree

override LOG: bool = false;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  var acc = vec2f(neg_inf(), 0.0);
  for (var c = lid; c < p.cols; c += WG) {
    acc = lse_push(acc, x[base + c]);
  }
  acc = wg_lse(acc, lid);
  let m = acc.x;
  let s = acc.y;
  let log_s = log(s);
  for (var c = lid; c < p.cols; c += WG) {
    if (LOG) {
      y[base + c] = (x[base + c] - m) - log_s;
    } else {
      y[base + c] = exp(x[base + c] - m) / s;
    }
  }
}
