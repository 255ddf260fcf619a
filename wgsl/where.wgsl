// where: out = cond ≠ 0 ? a : b, all three broadcast to the output (strides as in binary.wgsl).
// cond is float32 or int32 (COND_INT); a float −0 counts as zero, NaN as non-zero.
//
// Bindings:  @binding(0) uniform Params { n, rank, shape[8], condStrides[8], aStrides[8], bStrides[8] }
//            @binding(1) cond: array<u32>   @binding(2) a: array<f32>   @binding(3) b: array<f32>
//            @binding(4) out: array<f32> [n]
// Overrides: COND_INT, WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535

override COND_INT: bool = false;

struct Params {
  n: u32,
  rank: u32,
  shape: array<vec4u, 2>,
  condStrides: array<vec4u, 2>,
  aStrides: array<vec4u, 2>,
  bStrides: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cond: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn is_true(w: u32) -> bool {
  if (COND_INT) {
    return w != 0u;
  }
  return (w & 0x7fffffffu) != 0u; // ±0 are false; every other float, NaN included, is true
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let at = strided_offsets(i, p.rank, p.shape, p.condStrides, p.aStrides, p.bStrides);
  out[i] = select(b[at.z], a[at.y], is_true(cond[at.x]));
}
