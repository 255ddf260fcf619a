// full: out[i] = bits for every word i < n, so one kernel serves every dtype: n elements of
// float32 or int32 (bits = the value's bit pattern), or 2n of float16 or bfloat16 (bits = the
// value's 16-bit pattern in both halves; an odd size's padding half gets it too, never read).
//
// Bindings:  @binding(0) uniform Params { n, bits }   n = words
//            @binding(1) out: array<u32> [n]
// Overrides: WG (threads per workgroup)
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535 (index = (y·X + x)·WG + local)


struct Params {
  n: u32,
  bits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  out[i] = p.bits;
}
