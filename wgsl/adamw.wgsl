// adamwStep (in place), as torch.optim.AdamW (bias corrections bc₁ = 1 − β₁ᵗ, bc₂ = 1 − β₂ᵗ and
// decay = 1 − lr·λ computed on the host in float64):
//   m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  p ← p·decay − lr·(m/bc₁)/(√(v/bc₂) + ε)
//
// Bindings:  @binding(0) uniform Params { n, lr, beta1, beta2, eps, decay, bc1, bc2 }
//            @binding(1) param [n] (read_write)   @binding(2) grad [n]
//            @binding(3) m [n] (read_write)       @binding(4) v [n] (read_write)
// Overrides: WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535


struct Params {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  decay: f32,
  bc1: f32,
  bc2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let g = grad[i];
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = param[i] * p.decay - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
}
