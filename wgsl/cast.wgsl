// cast: elementwise dtype conversion between float32, int32, float16 and bfloat16, in integer
// arithmetic on bit patterns (no float rounding mode, no flush of subnormals, nothing left to the
// implementation), bit-identical to the CPU's cast (src/half-float.ts):
//   same dtype          the words copied (NaN payloads kept)
//   float → int32       NaN → 0, x ≥ 2³¹ (+∞ too) → 2³¹ − 1, x < −2³¹ (−∞ too) → −2³¹, else truncation
//                       toward zero. Checked explicitly: WGSL's i32(f32) of values outside the range,
//                       and of NaN, is not the same on every backend (some wrap, some clamp).
//   int32 → float32     round to nearest (f32(i32))
//   16-bit → float32    exact; a float16 NaN → 0x7fc00000 (the CPU's table holds JavaScript NaNs), a
//                       bfloat16 one keeps its bits (the CPU shifts them)
//   → 16-bit            rounded once from the exact source value (float32 or int32 — never through
//                       float32 first: no double rounding), ties to the even fraction; past the
//                       largest finite value → ±∞ exactly where IEEE 754 says (float16: |x| ≥ 65520);
//                       NaN → the quiet NaN of its sign (float16 ±0x7e00, bfloat16 ±0x7fc0); −0 kept
//   float16 ↔ bfloat16  through the exact float32 value, so rounded once
//
// The conversions between float32 and 16-bit bit patterns are common.wgsl's (f16_to_f32, f32_to_f16, …).
//
// Storage: float32 and int32 one element per u32 word; float16 and bfloat16 two per word, element
// 2k in the low half of word k, 2k + 1 in the high half (a padding half, written 0, ends an odd size).
//
// Bindings:  @binding(0) uniform Params { n }   n = elements
//            @binding(1) x: array<u32>          @binding(2) out: array<u32> [words of n elements of TO]
// Overrides: FROM, TO (0 float32, 1 int32, 2 float16, 3 bfloat16), WG
// Grid:      one thread per output word: ceil(words / WG) workgroups, split over x and y above 65535

override FROM: u32 = 0u;
override TO: u32 = 0u;

const F32: u32 = 0u;
const I32: u32 = 1u;
const F16: u32 = 2u;
const BF16: u32 = 3u;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

fn is_half(kind: u32) -> bool {
  return kind >= F16;
}

/// float32 → int32, saturating (see above); 2147483648.0 = 2³¹ is exact in float32.
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

/// The 16-bit pattern of element i of a packed array.
fn half_at(i: u32) -> u32 {
  return (x[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu;
}

/// int32 → the 16-bit format with FRACTION fraction bits and BIAS, rounded once from the integer:
/// |i| = 2^b·(1 + f) with the leading one at bit b; the leading one of the rounded significand
/// adds one to the exponent field, so the field is b + BIAS − 1 before the significand is added.
fn i32_to_half(i: i32, fraction: u32, bias: u32) -> u32 {
  let sign = select(0u, 0x8000u, i < 0);
  let u = select(bitcast<u32>(i), ~bitcast<u32>(i) + 1u, i < 0); // |i|, 2³¹ included
  if (u == 0u) {
    return 0u;
  }
  let b = firstLeadingBit(u);
  var significand: u32;
  if (b <= fraction) {
    significand = u << (fraction - b);
  } else {
    significand = round_even(u, b - fraction);
  }
  let bits = ((b + bias - 1u) << fraction) + significand;
  if (fraction == 10u) {
    // float16: from 65520 up the rounded bits reach ∞'s (0x7c00) or pass them (b > 15): ∞
    return sign | min(bits, 0x7c00u);
  }
  return sign | bits; // bfloat16: every int32 is finite
}

/// The float32 bits of float element i of x (exact for 16-bit sources).
fn f32_bits_at(i: u32) -> u32 {
  if (FROM == F16) {
    return f16_to_f32(half_at(i));
  }
  if (FROM == BF16) {
    return bf16_to_f32(half_at(i));
  }
  return x[i];
}

/// Element i of x converted to TO: a word (32-bit TO) or a 16-bit pattern.
fn convert(i: u32) -> u32 {
  if (FROM == TO) {
    if (is_half(FROM)) {
      return half_at(i);
    }
    return x[i];
  }
  if (FROM == I32) {
    let v = bitcast<i32>(x[i]);
    if (TO == F16) {
      return i32_to_half(v, 10u, 15u);
    }
    if (TO == BF16) {
      return i32_to_half(v, 7u, 127u);
    }
    return bitcast<u32>(f32(v));
  }
  let w = f32_bits_at(i);
  if (TO == I32) {
    return bitcast<u32>(to_i32(bitcast<f32>(w)));
  }
  if (TO == F16) {
    return f32_to_f16(w);
  }
  if (TO == BF16) {
    return f32_to_bf16(w);
  }
  return w;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let k = flat_index(wid, nwg, lid);
  if (!is_half(TO)) {
    if (k < p.n) {
      out[k] = convert(k);
    }
    return;
  }
  let i = 2u * k;
  if (i >= p.n) {
    return;
  }
  let high = select(0u, convert(i + 1u), i + 1u < p.n);
  out[k] = convert(i) | (high << 16u);
}
