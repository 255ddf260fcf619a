// crossEntropy per row of logits z [rows, classes] against int32 targets t [rows]:
//   lse = m + ln s,  s = Σ_c exp(z[c] − m),  m = max_c z[c]
//   t = ignoreIndex:   loss = 0, valid = 0
//   else:              loss = (m − z[t]) + ln s (NaN when t is outside [0, classes)), valid = 1
// The loss is not lse − z[t]: for large logits, m + ln s rounds ln s to a multiple of ulp(m).
// lse itself is stored rounded to float32, as on the CPU (crossEntropyGrad uses exp(z − lse)).
// One pass over the row: m and s together, online (common.wgsl, lse_push: one exp per element);
// one workgroup per row, (m, s) merged over the workgroup by a tree (WG a power of two).
//
// Bindings:  @binding(0) uniform Params { rows, classes, ignoreIndex (i32) }
//            @binding(1) logits [rows·classes]   @binding(2) targets: array<i32> [rows]
//            @binding(3) loss [rows]   @binding(4) lse [rows]   @binding(5) valid [rows]
// Overrides: WG
// Grid:      `rows` workgroups, split over x and y when above 65535 (row = y·X + x)
// Loops:     1 pass over the row, 1 tree


struct Params {
  rows: u32,
  classes: u32,
  ignoreIndex: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<storage, read_write> valid: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.classes;
  var acc = vec2f(neg_inf(), 0.0);
  for (var c = lid; c < p.classes; c += WG) {
    acc = lse_push(acc, logits[base + c]);
  }
  acc = wg_lse(acc, lid);
  let m = acc.x;
  let log_s = log(acc.y);
  if (lid == 0u) {
    lse[row] = m + log_s;
    let t = targets[row];
    if (t == p.ignoreIndex) {
      loss[row] = 0.0;
      valid[row] = 0.0;
    } else {
      valid[row] = 1.0;
      if (t >= 0 && u32(t) < p.classes) {
        loss[row] = (m - logits[base + u32(t)]) + log_s;
      } else {
        loss[row] = nan();
      }
    }
  }
}
