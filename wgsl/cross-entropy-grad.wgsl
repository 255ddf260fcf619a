// crossEntropyGrad per row r of logits z [rows, classes] against int32 targets t [rows]:
//   e[c] = exp(z[r, c] − lse[r]),  p[c] = e[c] / Σ_c e[c]
//   dz[r, c] = (p[c] − [c = t[r]])·scale[0], or 0 on a row whose target is ignoreIndex
// lse is the forward's m + ln s rounded to float32, so e alone would be off by that rounding, up
// to ½ulp(lse) relative (0.4% at |z| = 1e5); it is one factor for the whole row, and dividing by
// Σe removes it (as the CPU kernel does). z − lse is exact for z near lse. scale is a 1-element
// device buffer (g/count), never read back to the host. One workgroup per row; the sum is a tree
// in workgroup memory (WG a power of two).
//
// Bindings:  @binding(0) uniform Params { rows, classes, ignoreIndex (i32) }
//            @binding(1) logits [rows·classes]   @binding(2) lse [rows]   @binding(3) targets: array<i32> [rows]
//            @binding(4) scale [1]    @binding(5) dz [rows·classes]
// Overrides: WG
// Grid:      `rows` workgroups, split over x and y when above 65535 (row = y·X + x)


struct Params {
  rows: u32,
  classes: u32,
  ignoreIndex: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<storage, read_write> dz: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.classes;
  let t = targets[row];
  if (t == p.ignoreIndex) {
    for (var c = lid; c < p.classes; c += WG) {
      dz[base + c] = 0.0;
    }
    return;
  }
  let l = lse[row];
  var s = 0.0;
  for (var c = lid; c < p.classes; c += WG) {
    s += exp(logits[base + c] - l);
  }
  let sum = wg_sum(s, lid);
  let k = scale[0];
  for (var c = lid; c < p.classes; c += WG) {
    dz[base + c] = (exp(logits[base + c] - l) / sum - select(0.0, 1.0, i32(c) == t)) * k;
  }
}
