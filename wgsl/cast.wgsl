// cast: elementwise dtype conversion on raw 32-bit words.
//   MODE 0: copy (same dtype)   MODE 1: float32 → int32, truncating toward zero (NaN → 0; values
//   outside the int32 range clamp, where the CPU's Int32Array wraps)   MODE 2: int32 → float32
//
// Bindings:  @binding(0) uniform Params { n }
//            @binding(1) x: array<u32> [n]     @binding(2) out: array<u32> [n]
// Overrides: MODE, WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535

override MODE: u32 = 0u;
override WG: u32 = 256u;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
  let w = x[i];
  if (MODE == 1u) {
    let f = bitcast<f32>(w);
    out[i] = bitcast<u32>(select(i32(trunc(f)), 0, is_nan(f)));
  } else if (MODE == 2u) {
    out[i] = bitcast<u32>(f32(bitcast<i32>(w)));
  } else {
    out[i] = w;
  }
}
