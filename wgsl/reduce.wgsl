// reduce: x viewed as [outer, len, inner]; out [outer, inner] = reduce over the middle axis.
//   OP: 0 sum, 1 max (NaN propagates: max(a, b) = a if a > b or a is NaN, else b — as the CPU)
//   entry `tree`:    inner = 1 (contiguous rows): one workgroup per output; threads stride over
//                    len, then a tree in workgroup memory (WG a power of two)
//   entry `columns`: inner > 1: a workgroup owns COLS = 32 adjacent outputs of one outer index;
//                    WG / 32 lanes per output walk len (32 consecutive threads read 32 consecutive
//                    floats: coalesced), then a tree over the lanes
//   entry `serial`:  one thread per output, looping over len (short rows, many outputs)
//
// Bindings:  @binding(0) uniform Params { outer, len, inner, outputs = outer·inner }
//            @binding(1) x: array<f32> [outer·len·inner]   @binding(2) out: array<f32> [outputs]
// Overrides: OP, WG
// Grid:      tree: `outputs` workgroups; columns: outer·ceil(inner / 32); serial: ceil(outputs / WG);
//            all split over x and y when above 65535 (workgroup index = y·X + x)
// Loops:     tree: ceil(len / WG) + 1, 1 tree; columns: ceil(len / (WG / 32)) + 1, 1 tree of log2(WG / 32);
//            serial: len + 1

override OP: u32 = 0u;

const COLS = 32u;

struct Params {
  outer: u32,
  len: u32,
  inner: u32,
  outputs: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn identity() -> f32 {
  if (OP == 0u) {
    return 0.0;
  }
  return neg_inf();
}

fn combine(acc: f32, v: f32) -> f32 {
  if (OP == 0u) {
    return acc + v;
  }
  return max_nan(acc, v);
}

/// Offset of element [o / inner, 0, o % inner]; the reduced axis then steps by inner.
fn base_of(o: u32) -> u32 {
  return (o / p.inner) * p.len * p.inner + o % p.inner;
}

@compute @workgroup_size(WG)
fn tree(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = group_index(wid, nwg);
  if (o >= p.outputs) {
    return;
  }
  let base = base_of(o);
  var acc = identity();
  for (var l = lid; l < p.len; l += WG) {
    acc = combine(acc, x[base + l * p.inner]);
  }
  var total: f32;
  if (OP == 0u) {
    total = wg_sum(acc, lid);
  } else {
    total = wg_max(acc, lid);
  }
  if (lid == 0u) {
    out[o] = total;
  }
}

@compute @workgroup_size(WG)
fn columns(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tiles = (p.inner + COLS - 1u) / COLS;
  let g = group_index(wid, nwg);
  let outer = g / tiles;
  let col = (g % tiles) * COLS + lid % COLS;
  let lane = lid / COLS;
  let lanes = WG / COLS;
  var acc = identity();
  if (outer < p.outer && col < p.inner) {
    let base = outer * p.len * p.inner + col;
    for (var l = lane; l < p.len; l += lanes) {
      acc = combine(acc, x[base + l * p.inner]);
    }
  }
  // tree over the lanes of each output (uniform control flow: every thread takes part)
  wg_scratch[lid] = acc;
  workgroupBarrier();
  for (var s = lanes / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      wg_scratch[lid] = combine(wg_scratch[lid], wg_scratch[lid + s * COLS]);
    }
    workgroupBarrier();
  }
  if (lane == 0u && outer < p.outer && col < p.inner) {
    out[outer * p.inner + col] = wg_scratch[lid];
  }
}

@compute @workgroup_size(WG)
fn serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = flat_index(wid, nwg, lid);
  if (o >= p.outputs) {
    return;
  }
  let base = base_of(o);
  var acc = identity();
  for (var l = 0u; l < p.len; l++) {
    acc = combine(acc, x[base + l * p.inner]);
  }
  out[o] = acc;
}
