// softmax: row-wise softmax (or log-softmax when LOG) of x [rows, cols], shifted by the row max:
//   m = max_c x[c];  s = Σ_c exp(x[c] − m);  y = exp(x − m)/s,  or  log: y = (x − m) − ln s
// (not x − (m + ln s): for a large m, m + ln s rounds ln s to a multiple of ulp(m))
// One workgroup per row; both reductions are trees in workgroup memory (WG a power of two).
//
// Bindings:  @binding(0) uniform Params { rows, cols }
//            @binding(1) x: array<f32> [rows·cols]   @binding(2) y: array<f32> [rows·cols]
// Overrides: LOG, WG
// Grid:      `rows` workgroups, split over x and y when above 65535 (row = y·X + x)

override LOG: bool = false;
override WG: u32 = 256u;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, WG>;

/// −∞ (a runtime value: WGSL constant expressions cannot hold infinities).
fn neg_inf() -> f32 {
  var bits = 0xff800000u;
  return bitcast<f32>(bits);
}

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn max_nan(a: f32, b: f32) -> f32 {
  return select(b, a, a > b || is_nan(a));
}

/// Tree reduction of each thread's value over the workgroup (max when take_max, else sum).
fn reduce(v: f32, lid: u32, take_max: bool) -> f32 {
  workgroupBarrier(); // every thread has read the previous result before it is overwritten
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let other = partial[lid + s];
      partial[lid] = select(partial[lid] + other, max_nan(partial[lid], other), take_max);
    }
    workgroupBarrier();
  }
  return partial[0];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  var m = neg_inf();
  for (var c = lid; c < p.cols; c += WG) {
    m = max_nan(m, x[base + c]);
  }
  m = reduce(m, lid, true);
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    s += exp(x[base + c] - m);
  }
  s = reduce(s, lid, false);
  let log_s = log(s);
  for (var c = lid; c < p.cols; c += WG) {
    if (LOG) {
      y[base + c] = (x[base + c] - m) - log_s;
    } else {
      y[base + c] = exp(x[base + c] - m) / s;
    }
  }
}
