// cholSolve: X [r, cols] solving L·Lᵀ·X = rhs, L [r, r] lower-triangular (the LoRA-FA correction).
// One thread per column c: forward substitution L·Z = rhs[:, c], then back substitution
// Lᵀ·X = Z, both in place in out[:, c]:
//   Z[i] = (rhs[i] − Σ_{k<i} L[i, k]·Z[k]) / L[i, i]
//   X[i] = (Z[i] − Σ_{k>i} L[k, i]·X[k]) / L[i, i]      (i from r − 1 down to 0)
//
// Bindings:  @binding(0) uniform Params { r, cols }
//            @binding(1) L [r·r]   @binding(2) rhs [r·cols]   @binding(3) out [r·cols]
// Overrides: WG
// Grid:      ceil(cols / WG) workgroups, split over x and y when above 65535


struct Params {
  r: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read> rhs: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = flat_index(wid, nwg, lid);
  if (c >= p.cols) {
    return;
  }
  let r = p.r;
  for (var i = 0u; i < r; i++) {
    var s = rhs[i * p.cols + c];
    for (var k = 0u; k < i; k++) {
      s -= L[i * r + k] * out[k * p.cols + c];
    }
    out[i * p.cols + c] = s / L[i * r + i];
  }
  for (var i = r; i > 0u; i--) {
    let row = i - 1u;
    var s = out[row * p.cols + c];
    for (var k = i; k < r; k++) {
      s -= L[k * r + row] * out[k * p.cols + c];
    }
    out[row * p.cols + c] = s / L[row * r + row];
  }
}
