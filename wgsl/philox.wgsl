// Philox-4x32-10 streams (Salmon et al., SC'11), bit-identical to src/random.ts:
//   key = (seed, 0); block b = offset + j (mod 2³²); counter = (b, 0, 0, 0)
//   rand_uniform: thread j fills elements 4j..4j+3 with (w[lane] >> 8)·2⁻²⁴        (n elements)
//   rand_normal:  thread i uses block offset + i: u₁ = ((w₀ >> 8) + 1)·2⁻²⁴, u₂ = (w₁ >> 8)·2⁻²⁴,
//                 out[i] = √(−2 ln u₁)·cos(2π u₂)
//   dropout:      thread j keeps element 4j + lane iff (w[lane] >> 8) ≥ threshold: out = x·scale, else 0
//
// Bindings:  @binding(0) uniform Params { n, seed, offset, threshold, scale }
//            @binding(1) x: array<f32> [n] (dropout only)      @binding(2) out: array<f32> [n]
// Overrides: WG
// Grid:      rand_uniform and dropout: ceil(ceil(n / 4) / WG) workgroups; rand_normal: ceil(n / WG);
//            split over x and y when above 65535


struct Params {
  n: u32,
  seed: u32,
  offset: u32,
  threshold: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const M0: u32 = 0xd2511f53u;
const M1: u32 = 0xcd9e8d57u;
const W0: u32 = 0x9e3779b9u;
const W1: u32 = 0xbb67ae85u;
const INV_2_24: f32 = 5.9604644775390625e-8;
const TWO_PI: f32 = 6.283185307179586;

/// High 32 bits of the 64-bit product a·b, from 16-bit halves (as mulhi32 in random.ts).
fn mulhi32(a: u32, b: u32) -> u32 {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let ll = al * bl;
  let lh = al * bh;
  let hl = ah * bl;
  let hh = ah * bh;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox(block: u32, seed: u32) -> vec4u {
  var c = vec4u(block, 0u, 0u, 0u);
  var k = vec2u(seed, 0u);
  for (var r = 0u; r < 10u; r++) {
    let hi0 = mulhi32(M0, c.x);
    let lo0 = M0 * c.x;
    let hi1 = mulhi32(M1, c.z);
    let lo1 = M1 * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2u(W0, W1);
  }
  return c;
}

@compute @workgroup_size(WG)
fn rand_uniform(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = flat_index(wid, nwg, lid);
  if (j * 4u >= p.n) {
    return;
  }
  let w = philox(p.offset + j, p.seed);
  for (var lane = 0u; lane < 4u; lane++) {
    let i = j * 4u + lane;
    if (i < p.n) {
      out[i] = f32(w[lane] >> 8u) * INV_2_24;
    }
  }
}

@compute @workgroup_size(WG)
fn rand_normal(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let w = philox(p.offset + i, p.seed);
  let u1 = f32((w.x >> 8u) + 1u) * INV_2_24;
  let u2 = f32(w.y >> 8u) * INV_2_24;
  out[i] = sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

@compute @workgroup_size(WG)
fn dropout(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = flat_index(wid, nwg, lid);
  if (j * 4u >= p.n) {
    return;
  }
  let w = philox(p.offset + j, p.seed);
  for (var lane = 0u; lane < 4u; lane++) {
    let i = j * 4u + lane;
    if (i < p.n) {
      out[i] = select(0.0, x[i] * p.scale, (w[lane] >> 8u) >= p.threshold);
    }
  }
}
