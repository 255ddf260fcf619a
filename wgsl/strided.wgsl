// Strided views, two entry points sharing the index map of a view: element [i₀, i₁, ...] of the
// view's shape sits at offset + Σ iₖ·strides[k]. Raw 32-bit words: any dtype. The host collapses
// the view first; rank ≤ 8 after collapsing.
//   gather  (gatherStrided):            b (contiguous, the view's shape) = a at the view (permute, slice, expand)
//   scatter (scatterStrided, in place): b at the view = a (contiguous) (concat, slice backward, assign);
//                                       the view must not overlap itself (no stride-0 axes)
//
// Bindings:  @binding(0) uniform StridedParams (common.wgsl) { n, rank, offset, shape[8], strides[8] } (vec4-packed)
//            @binding(1) a: array<u32> (read)   @binding(2) b: array<u32> (written)
// Overrides: WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535


@group(0) @binding(0) var<uniform> p: StridedParams;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read_write> b: array<u32>;

/// Where element i (row-major over the view's shape) sits in the strided buffer.
fn view_index(i: u32) -> u32 {
  let none = array<vec4u, 2>();
  return p.offset + strided_offsets(i, p.rank, p.shape, p.strides, none, none).x;
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i < p.n) {
    b[i] = a[view_index(i)];
  }
}

@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i < p.n) {
    b[view_index(i)] = a[i];
  }
}
