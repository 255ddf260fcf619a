// common.wgsl: the prelude the loader puts in front of every other file of this folder, so each
// kernel file holds only what is its own. Unused declarations cost nothing: a pipeline includes
// only what its entry point uses (a workgroup array included).
//
//   WG                      threads per workgroup of the 1-D and row kernels (override; a power of
//                           two wherever a kernel reduces over its workgroup)
//   flat_index, group_index an invocation's index in a 1-D launch, and a workgroup's, where the
//                           host splits more than 65535 workgroups over x and y (index = y·X + x)
//   nan, inf, neg_inf       special values (runtime values: WGSL constant expressions cannot hold them)
//   is_nan, max_nan         the NaN test, and the max that propagates NaN (as numpy, PyTorch, the CPU)
//   wg_sum, wg_max, wg_sum2 tree reductions over the workgroup of one value per thread
//   lse_push, wg_lse        a running (max m, Σ exp(x − m)) in one pass (softmax, cross entropy)
//   binary_op               x ∘ y for the OP codes of binary.wgsl and scalar.wgsl
//   strided_offsets         where element i of a collapsed shape sits in up to three strided operands
//   StridedParams           the uniforms of a strided view's kernels (strided.wgsl, strided-half.wgsl)
//   f16_to_f32, bf16_to_f32 16-bit bit patterns → float32 bits, exact
//   f32_to_f16, f32_to_bf16 float32 bits → 16-bit patterns, rounded to nearest even in integer arithmetic
//                           (as src/half-float.ts: NaN → the quiet NaN of its sign, overflow → ±∞)

override WG: u32 = 256u;

fn group_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return group_index(wid, nwg) * WG + lid;
}

fn nan() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

fn inf() -> f32 {
  var bits = 0x7f800000u;
  return bitcast<f32>(bits);
}

fn neg_inf() -> f32 {
  var bits = 0xff800000u;
  return bitcast<f32>(bits);
}

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

/// max(a, b), NaN if either is NaN.
fn max_nan(a: f32, b: f32) -> f32 {
  return select(b, a, a > b || is_nan(a));
}

var<workgroup> wg_scratch: array<f32, WG>;
var<workgroup> wg_scratch2: array<vec2f, WG>;

// The tree reductions: every thread of the workgroup calls them (uniform control flow) with its
// value and local index, and every thread gets the result. Each starts with a barrier, so a kernel
// may call them one after another: no thread overwrites a result another has not read yet.

/// Σ of v over the workgroup.
fn wg_sum(v: f32, lid: u32) -> f32 {
  workgroupBarrier();
  wg_scratch[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      wg_scratch[lid] += wg_scratch[lid + s];
    }
    workgroupBarrier();
  }
  return wg_scratch[0];
}

/// max of v over the workgroup (NaN if any is NaN).
fn wg_max(v: f32, lid: u32) -> f32 {
  workgroupBarrier();
  wg_scratch[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      wg_scratch[lid] = max_nan(wg_scratch[lid], wg_scratch[lid + s]);
    }
    workgroupBarrier();
  }
  return wg_scratch[0];
}

/// Σ of two values at once over the workgroup.
fn wg_sum2(v: vec2f, lid: u32) -> vec2f {
  workgroupBarrier();
  wg_scratch2[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      wg_scratch2[lid] += wg_scratch2[lid + s];
    }
    workgroupBarrier();
  }
  return wg_scratch2[0];
}

// The online log-sum-exp (Milakov & Gimelshein 2018): (m, s) with s = Σ exp(x − m) over the values
// seen, m their max, kept in one pass; (−∞, 0) before any value. NaN propagates to both.

/// acc with value x added: one exp per value (of the smaller of x and m, minus the larger).
fn lse_push(acc: vec2f, x: f32) -> vec2f {
  let m = max_nan(acc.x, x);
  if (m == neg_inf()) {
    return acc; // only −∞ so far: contributes nothing
  }
  let e = exp(min(acc.x, x) - m);
  return vec2f(m, select(acc.y + e, acc.y * e + 1.0, x > acc.x || is_nan(x)));
}

/// The (m, s) of two sets of values together.
fn lse_merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max_nan(a.x, b.x);
  if (m == neg_inf()) {
    return a;
  }
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

/// (m, s) over the workgroup (a tree of lse_merge in wg_scratch2).
fn wg_lse(v: vec2f, lid: u32) -> vec2f {
  workgroupBarrier();
  wg_scratch2[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      wg_scratch2[lid] = lse_merge(wg_scratch2[lid], wg_scratch2[lid + s]);
    }
    workgroupBarrier();
  }
  return wg_scratch2[0];
}

/// x ∘ y: op 0 add, 1 sub, 2 mul, 3 div, 4 eq (1 or 0), 5 gt (1 or 0).
fn binary_op(op: u32, x: f32, y: f32) -> f32 {
  switch (op) {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return select(0.0, 1.0, x == y); }
    default: { return select(0.0, 1.0, x > y); }
  }
}

/// A strided view: n elements of shape (≤ 8 axes, vec4-packed) at offset + Σ coordinate·stride.
struct StridedParams {
  n: u32,
  rank: u32,
  offset: u32,
  shape: array<vec4u, 2>,
  strides: array<vec4u, 2>,
}

/// Element i of a shape (its first `rank` ≤ 8 sizes, packed in two vec4u, row-major) sits at
/// Σ_axis coordinate·stride in each operand: the three results are the offsets for the strides
/// s0, s1 and s2 (pass array<vec4u, 2>() for an operand that is not there). The host collapses
/// shapes first (src/shape.ts, collapseAxes), so the loop is short.
fn strided_offsets(i: u32, rank: u32, shape: array<vec4u, 2>, s0: array<vec4u, 2>, s1: array<vec4u, 2>, s2: array<vec4u, 2>) -> vec3u {
  // copies in function memory can be indexed at run time
  var sizes = shape;
  var a = s0;
  var b = s1;
  var c = s2;
  var rem = i;
  var at = vec3u(0u);
  for (var d = rank; d > 0u; d--) {
    let v = (d - 1u) / 4u;
    let lane = (d - 1u) % 4u;
    let size = sizes[v][lane];
    let coord = rem % size;
    rem = rem / size;
    at += coord * vec3u(a[v][lane], b[v][lane], c[v][lane]);
  }
  return at;
}

/// float16 bits h → the float32 bits of the same value (exact; subnormals normalised by hand).
fn f16_to_f32(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0x1fu) {
    return select(sign | 0x7f800000u, 0x7fc00000u, m != 0u);
  }
  if (e != 0u) {
    return sign | ((e + 112u) << 23u) | (m << 13u); // 112 = 127 − 15
  }
  if (m == 0u) {
    return sign;
  }
  // m·2⁻²⁴ with the leading one of m at bit b: 2^(b − 24)·(1 + rest)
  let b = firstLeadingBit(m);
  return sign | ((b + 103u) << 23u) | ((m << (23u - b)) & 0x7fffffu); // 103 = 127 − 24
}

/// bfloat16 bits h → float32 bits: float32's top half (a NaN keeps its sign and payload).
fn bf16_to_f32(h: u32) -> u32 {
  return h << 16u;
}

/// q + 1 when the `shift` low bits dropped from v round q = v >> shift up: more than half, or half and q odd (1 ≤ shift ≤ 31).
fn round_even(v: u32, shift: u32) -> u32 {
  let q = v >> shift;
  let rest = v & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  return q + select(0u, 1u, rest > half || (rest == half && (q & 1u) == 1u));
}

/// float32 bits → float16 bits, rounded to nearest even (a carry out of the fraction raises the
/// exponent, and out of the largest finite exponent gives ∞: 65520 → ∞).
fn f32_to_f16(w: u32) -> u32 {
  let sign = (w >> 16u) & 0x8000u;
  let a = w & 0x7fffffffu;
  if (a > 0x7f800000u) {
    return sign | 0x7e00u; // NaN: quiet, sign kept
  }
  let e = a >> 23u;
  if (e >= 143u) { // 2¹⁶ and up (∞ too): past 65520
    return sign | 0x7c00u;
  }
  let m = a & 0x7fffffu;
  if (e >= 113u) { // normal in float16: biased exponent e − 112 ≥ 1
    return sign | (((e - 112u) << 10u) + round_even(m, 13u));
  }
  // subnormal in float16: q = value / 2⁻²⁴ = (m | 2²³)·2^(e − 126); below 2⁻²⁵ (shift > 24) rounds to 0
  let shift = 126u - e;
  if (e == 0u || shift > 24u) {
    return sign;
  }
  return sign | round_even(m | 0x800000u, shift);
}

/// float32 bits → bfloat16 bits, rounded to nearest even (the top half of the word).
fn f32_to_bf16(w: u32) -> u32 {
  if ((w & 0x7fffffffu) > 0x7f800000u) {
    return ((w >> 16u) & 0x8000u) | 0x7fc0u; // NaN: quiet, sign kept
  }
  return ((w >> 16u) & 0x8000u) | round_even(w & 0x7fffffffu, 16u);
}
