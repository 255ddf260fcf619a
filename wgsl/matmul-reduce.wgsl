// matmul-reduce: the second pass of a split-K matmul, with the matmul epilogue:
//   out[z, i] = alpha·Σ_{s < splits} part[z·splits + s, i] (+ bias[i % n]) (+ c[z, i])
// for z < batch, i < m·n. part [batch·splits, m, n] holds the partial products the tiled kernel
// wrote, one per range of k; they are added in order s = 0, 1, … (no atomics), so the result is
// the same on every run.
//
// Bindings:  @binding(0) uniform Params { total = batch·m·n, mn = m·n, n, splits, alpha, epilogue (bit 0: + bias, bit 1: + c) }
//            @binding(1) part [batch·splits·m·n]   @binding(2) out [total]
//            @binding(3) bias [n]   @binding(4) c [total] (any buffer where the epilogue leaves them out)
// Overrides: WG
// Grid:      ceil(total / WG) workgroups, split over x and y when above 65535
// Loops:     splits + 1

struct Params {
  total: u32,
  mn: u32,
  n: u32,
  splits: u32,
  alpha: f32,
  epilogue: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> c: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = flat_index(wid, nwg, lid);
  if (t >= p.total) {
    return;
  }
  let i = t % p.mn;
  var at = (t / p.mn) * p.splits * p.mn + i;
  var sum = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    sum += part[at];
    at += p.mn;
  }
  var v = p.alpha * sum;
  if ((p.epilogue & 1u) != 0u) {
    v += bias[i % p.n];
  }
  if ((p.epilogue & 2u) != 0u) {
    v += c[t];
  }
  out[t] = v;
}
