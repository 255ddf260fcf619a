// Strided views of float16 and bfloat16 storages (two elements per u32 word, element 2k in the low
// half of word k): strided.wgsl's gather and scatter, copying 16-bit patterns as they are.
//   gather  (gatherStrided):            b (contiguous, packed) = a at the view; one thread per word of b
//   scatter (scatterStrided, in place): b at the view = a (contiguous); one thread per element, which
//                                       sets its half of the word with two atomics (clear, then or): the
//                                       other half may be another thread's, written at the same time
//
// Bindings:  @binding(0) uniform StridedParams (common.wgsl) { n, rank, offset, shape[8], strides[8] } (vec4-packed; n = elements)
//            @binding(1) a: array<u32> (read)   @binding(2) b: array<atomic<u32>> (written)
// Overrides: WG
// Grid:      gather ceil(⌈n / 2⌉ / WG), scatter ceil(n / WG) workgroups, split over x and y when above 65535


@group(0) @binding(0) var<uniform> p: StridedParams;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read_write> b: array<atomic<u32>>;

/// Where element i (row-major over the view's shape) sits in the strided storage, in elements.
fn view_index(i: u32) -> u32 {
  let none = array<vec4u, 2>();
  return p.offset + strided_offsets(i, p.rank, p.shape, p.strides, none, none).x;
}

/// The 16-bit pattern of element i of a.
fn a_half(i: u32) -> u32 {
  return (a[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu;
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = 2u * flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let high = select(0u, a_half(view_index(i + 1u)), i + 1u < p.n);
  atomicStore(&b[i >> 1u], a_half(view_index(i)) | (high << 16u));
}

@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let j = view_index(i);
  let shift = (j & 1u) * 16u;
  atomicAnd(&b[j >> 1u], ~(0xffffu << shift));
  atomicOr(&b[j >> 1u], a_half(i) << shift);
}
