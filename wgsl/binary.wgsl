// binary: out = a ∘ b with numpy broadcasting. The host collapses the output shape (size-1 axes
// dropped, axes contiguous for every operand merged) and gives each operand's strides in the
// output's index space, 0 along broadcast axes. Rank ≤ 8 after collapsing.
//   OP: 0 add, 1 sub, 2 mul, 3 div, 4 eq (1 or 0), 5 gt (1 or 0) (common.wgsl, binary_op)
//
// Bindings:  @binding(0) uniform Params { n, rank, shape[8], aStrides[8], bStrides[8] } (vec4-packed)
//            @binding(1) a: array<f32>   @binding(2) b: array<f32>   @binding(3) out: array<f32> [n]
// Overrides: OP, WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535

override OP: u32 = 0u;

struct Params {
  n: u32,
  rank: u32,
  shape: array<vec4u, 2>,
  aStrides: array<vec4u, 2>,
  bStrides: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let at = strided_offsets(i, p.rank, p.shape, p.aStrides, p.bStrides, array<vec4u, 2>());
  out[i] = binary_op(OP, a[at.x], b[at.y]);
}
