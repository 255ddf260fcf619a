// scalar: out = x ∘ value, or value ∘ x with VALUE_FIRST, for a number `value` held in the uniform
// block (no constant tensor, no second dispatch to make one). OP as binary.wgsl (common.wgsl, binary_op).
//
// Bindings:  @binding(0) uniform Params { n, value }
//            @binding(1) x: array<f32> [n]   @binding(2) out: array<f32> [n]
// Overrides: OP, VALUE_FIRST, WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535

override OP: u32 = 0u;
override VALUE_FIRST: bool = false;

struct Params {
  n: u32,
  value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  if (VALUE_FIRST) {
    out[i] = binary_op(OP, p.value, x[i]);
  } else {
    out[i] = binary_op(OP, x[i], p.value);
  }
}
