// cast: elementwise dtype conversion on raw 32-bit words.
//   MODE 0: copy (same dtype)
//   MODE 1: float32 → int32 as the CPU: NaN → 0, x ≥ 2³¹ (+∞ too) → 2³¹ − 1, x < −2³¹ (−∞ too) → −2³¹,
//           else truncation toward zero. Checked explicitly: WGSL's i32(f32) of values outside
//           the range, and of NaN, is not the same on every backend (some wrap, some clamp).
//   MODE 2: int32 → float32 (round to nearest)
//
// Bindings:  @binding(0) uniform Params { n }
//            @binding(1) x: array<u32> [n]     @binding(2) out: array<u32> [n]
// Overrides: MODE, WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535

override MODE: u32 = 0u;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

/// float32 → int32, saturating (see MODE 1); 2147483648.0 = 2³¹ is exact in float32.
fn to_i32(f: f32) -> i32 {
  if (is_nan(f)) {
    return 0;
  }
  if (f >= 2147483648.0) {
    return 2147483647;
  }
  if (f < -2147483648.0) {
    return bitcast<i32>(0x80000000u);
  }
  return i32(trunc(f));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let w = x[i];
  if (MODE == 1u) {
    out[i] = bitcast<u32>(to_i32(bitcast<f32>(w)));
  } else if (MODE == 2u) {
    out[i] = bitcast<u32>(f32(bitcast<i32>(w)));
  } else {
    out[i] = w;
  }
}
