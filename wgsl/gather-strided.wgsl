// gatherStrided: out (contiguous, the view's shape) = x at a strided view: element [i₀, i₁, ...]
// is x[offset + Σ iₖ·strides[k]] (permute, slice, expand). Raw 32-bit words: any dtype.
// The host collapses the view first; rank ≤ 8 after collapsing.
//
// Bindings:  @binding(0) uniform Params { n, rank, offset, shape[8], strides[8] } (vec4-packed)
//            @binding(1) x: array<u32>   @binding(2) out: array<u32> [n]
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
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  var rem = i;
  var src = p.offset;
  for (var d = p.rank; d > 0u; d--) {
    let axis = d - 1u;
    let size = p.shape[axis / 4u][axis % 4u];
    src += (rem % size) * p.strides[axis / 4u][axis % 4u];
    rem = rem / size;
  }
  out[i] = x[src];
}
