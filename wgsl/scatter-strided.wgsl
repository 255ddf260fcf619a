// scatterStrided (in place): dst at a strided view = src (contiguous, the view's shape): element
// [i₀, i₁, ...] of src goes to dst[offset + Σ iₖ·strides[k]] (concat, slice backward, assign).
// Raw 32-bit words: any dtype. The view must not overlap itself (no stride-0 axes).
//
// Bindings:  @binding(0) uniform Params { n, rank, offset, shape[8], strides[8] } (vec4-packed)
//            @binding(1) src: array<u32> [n]   @binding(2) dst: array<u32>
// Overrides: WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535

override WG: u32 = 256u;

struct Params {
  n: u32,
  rank: u32,
  offset: u32,
  shape: array<vec4u, 2>,
  strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  var rem = i;
  var to = p.offset;
  for (var d = p.rank; d > 0u; d--) {
    let axis = d - 1u;
    let size = p.shape[axis / 4u][axis % 4u];
    to += (rem % size) * p.strides[axis / 4u][axis % 4u];
    rem = rem / size;
  }
  dst[to] = src[i];
}
