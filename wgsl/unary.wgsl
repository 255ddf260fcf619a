// unary: y = f(x) elementwise (entry `forward`), and its gradient dx = g·f'(·) (entry `grad`),
// given the tensor UNARY_GRAD_NEEDS names in src/backends/backend.ts (x or y; g itself for neg).
//   OP: 0 neg, 1 exp, 2 log, 3 sqrt, 4 abs, 5 tanh, 6 sigmoid, 7 relu, 8 gelu (tanh approximation),
//       9 geluErf (x·Φ(x), exact), 10 silu, 11 pow (exponent p = param; x^p as Math.pow, zero included;
//       gradient p·x^(p−1), and 0 for p = 0)
//
// Bindings:  @binding(0) uniform Params { n, param }
//            @binding(1) a: array<f32> [n]   forward: x; grad: the saved x or y
//            @binding(2) out: array<f32> [n]
//            @binding(3) g: array<f32> [n]   grad only: the upstream gradient
// Overrides: OP, WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535

override OP: u32 = 0u;

struct Params {
  n: u32,
  param: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;
const INV_SQRT_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
const TWO_OVER_SQRT_PI: f32 = 1.1283791670955126;

/// tanh, clamped first: |x| ≥ 15 gives ±1 in float32 anyway, and exp-based tanh would give inf/inf.
fn tanh_safe(x: f32) -> f32 {
  return tanh(clamp(x, -15.0, 15.0));
}

fn sigmoid(x: f32) -> f32 {
  if (x >= 0.0) {
    return 1.0 / (1.0 + exp(-x));
  }
  let e = exp(x);
  return e / (1.0 + e);
}

/// u = √(2/π)·(x + 0.044715·x³) of the tanh-approximated GELU ½x(1 + tanh u).
fn gelu_inner(x: f32) -> f32 {
  return SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
}

/// erf(z) for |z| < 0.5 by its Maclaurin series: (2/√π)·z·Σ (−z²)ⁿ/(n!(2n+1)); the first omitted
/// term is below 3e-8 relative.
fn erf_small(z: f32) -> f32 {
  let z2 = z * z;
  let s = 1.0 + z2 * (-1.0 / 3.0 + z2 * (1.0 / 10.0 + z2 * (-1.0 / 42.0 + z2 * (1.0 / 216.0 + z2 * (-1.0 / 1320.0 + z2 * (1.0 / 9360.0))))));
  return TWO_OVER_SQRT_PI * z * s;
}

/// erfc(z) for z ≥ 0.5, Chebyshev fit of Numerical Recipes (erfcc): relative error < 1.2e-7.
fn erfc_large(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807
    + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(-z * z + poly);
}

/// erfc over the real line, accurate to float32 in relative terms where erfc is small (z ≫ 0)
/// and where erf is small (|z| < 0.5).
fn erfc(z: f32) -> f32 {
  if (z >= 0.5) {
    return erfc_large(z);
  }
  if (z <= -0.5) {
    return 2.0 - erfc_large(-z);
  }
  return 1.0 - erf_small(z);
}

/// Φ(x) = ½·erfc(−x/√2), the standard normal CDF (no cancellation for x ≪ 0).
fn normal_cdf(x: f32) -> f32 {
  return 0.5 * erfc(-x * INV_SQRT_2);
}

/// x^e for real x as Math.pow: integer exponents of negative bases take their sign from the
/// parity, other negative bases give NaN; x = ±0 is handled here (0 for e > 0, ∞ for e < 0, signed
/// like x for odd integers e), because WGSL's pow (exp2(e·log2 x)) is undefined at 0 (llvmpipe: 0).
fn pow_real(x: f32, e: f32) -> f32 {
  if (e == 0.0) {
    return 1.0;
  }
  if (e == 1.0) {
    return x;
  }
  if (e == 2.0) {
    return x * x;
  }
  let odd = trunc(e) == e && abs(e) % 2.0 == 1.0;
  if (x == 0.0) {
    let r0 = select(0.0, inf(), e < 0.0);
    return select(r0, -r0, odd && (bitcast<u32>(x) & 0x80000000u) != 0u);
  }
  let r = pow(abs(x), e);
  if (x < 0.0) {
    if (trunc(e) != e) {
      return nan();
    }
    return select(r, -r, odd);
  }
  return r;
}

fn f(x: f32) -> f32 {
  switch (OP) {
    case 0u: { return -x; }
    case 1u: { return exp(x); }
    case 2u: { return log(x); }
    case 3u: { return sqrt(x); }
    case 4u: { return abs(x); }
    case 5u: { return tanh_safe(x); }
    case 6u: { return sigmoid(x); }
    case 7u: { return select(0.0, x, x > 0.0); }
    case 8u: { return x * sigmoid(2.0 * gelu_inner(x)); } // ½(1 + tanh u) = sigmoid(2u): no cancellation for x ≪ 0
    case 9u: { return x * normal_cdf(x); }
    case 10u: { return x * sigmoid(x); }
    default: { return pow_real(x, p.param); }
  }
}

/// dx from the saved tensor s (x or y, see UNARY_GRAD_NEEDS) and the upstream gradient d.
fn df(s: f32, d: f32) -> f32 {
  switch (OP) {
    case 0u: { return -d; }
    case 1u: { return d * s; }
    case 2u: { return d / s; }
    case 3u: { return d / (2.0 * s); }
    case 4u: { return d * sign(s); }
    case 5u: { return d * (1.0 - s) * (1.0 + s); } // 1 − y², without cancellation near ±1
    case 6u: { return d * s * (1.0 - s); }
    case 7u: { return select(0.0, d, s > 0.0); }
    case 8u: {
      // with σ = sigmoid(2u): ½(1 + tanh u) = σ and ½(1 − tanh² u) = 2σ(1 − σ)
      let u = gelu_inner(s);
      let sg = sigmoid(2.0 * u);
      return d * (sg + 2.0 * s * sg * sigmoid(-2.0 * u) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * s * s));
    }
    case 9u: { return d * (normal_cdf(s) + s * INV_SQRT_2PI * exp(-0.5 * s * s)); }
    case 10u: {
      let sg = sigmoid(s);
      return d * sg * (1.0 + s * (1.0 - sg));
    }
    default: {
      // p·x^(p−1) is 0·∞ = NaN at x = 0 for p = 0, where x⁰ = 1 has slope 0
      if (p.param == 0.0) {
        return 0.0;
      }
      return d * p.param * pow_real(s, p.param - 1.0);
    }
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  out[i] = f(a[i]);
}

@compute @workgroup_size(WG)
fn grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  out[i] = df(a[i], g[i]);
}
