// sgdStep (in place), as torch.optim.SGD with dampening 0:
//   d = g + λp;  with MOMENTUM: buf ← μ·buf + d,  d ← NESTEROV ? d + μ·buf : buf;  p ← p − lr·d
//
// Bindings:  @binding(0) uniform Params { n, lr, momentum, weightDecay }
//            @binding(1) param [n] (read_write)   @binding(2) grad [n]
//            @binding(3) buf [n] (read_write; MOMENTUM only)
// Overrides: MOMENTUM, NESTEROV, WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535

override MOMENTUM: bool = false;
override NESTEROV: bool = false;

struct Params {
  n: u32,
  lr: f32,
  momentum: f32,
  weightDecay: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  var d = grad[i] + p.weightDecay * param[i];
  if (MOMENTUM) {
    let b = p.momentum * buf[i] + d;
    buf[i] = b;
    d = select(b, d + p.momentum * b, NESTEROV);
  }
  param[i] = param[i] - p.lr * d;
}
