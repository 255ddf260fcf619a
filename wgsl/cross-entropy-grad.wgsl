// crossEntropyGrad: dz[r, c] = (exp(z[r, c] − lse[r]) − [c = t[r]])·scale[0] on rows whose target
// is not ignoreIndex, 0 on ignored rows. scale is a 1-element device buffer (g/count), never read
// back to the host.
//
// Bindings:  @binding(0) uniform Params { n = rows·classes, classes, ignoreIndex (i32) }
//            @binding(1) logits [n]   @binding(2) lse [rows]   @binding(3) targets: array<i32> [rows]
//            @binding(4) scale [1]    @binding(5) dz [n]
// Overrides: WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535

override WG: u32 = 256u;

struct Params {
  n: u32,
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
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  let r = i / p.classes;
  let c = i32(i % p.classes);
  let t = targets[r];
  if (t == p.ignoreIndex) {
    dz[i] = 0.0;
    return;
  }
  dz[i] = (exp(logits[i] - lse[r]) - select(0.0, 1.0, c == t)) * scale[0];
}
