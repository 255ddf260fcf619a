// scatterAddRows (embedding backward): out[r, c] = Σ over i with indices[i] = r of src[i, c],
// without float atomics and deterministically (the sum runs in increasing i, as the CPU):
//   entry `bucket` (one thread): a stable counting sort of the positions i by their row:
//     heads[r + 1] counts row r; a prefix sum turns heads[r] into the start of row r; placing
//     each i at order[heads[r]++] leaves heads[r] = end of row r (= start of row r + 1).
//     Indices outside [0, rows) are skipped: their rows of src are dropped without an error (a
//     shader cannot throw; see gather-rows.wgsl, which gives zero rows for them in forward).
//   entry `accumulate` (one thread per output element): sums src[order[j], c] for j in
//     [heads[r − 1] (0 for r = 0), heads[r]).
// lists = heads [rows + 1] followed by order [count], as one u32 scratch buffer.
//
// Bindings:  @binding(0) uniform Params { n = rows·dim, rows, dim, count }
//            @binding(1) indices: array<i32> [count]   @binding(2) lists: array<u32> [rows + 1 + count]
//            @binding(3) src [count·dim]   @binding(4) out [rows·dim]
// Overrides: WG
// Grid:      bucket: 1 workgroup of 1 thread; accumulate: ceil(n / WG), split over x and y above 65535


struct Params {
  n: u32,
  rows: u32,
  dim: u32,
  count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(0) @binding(2) var<storage, read_write> lists: array<u32>;
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn row_of(i: u32) -> i32 {
  let r = indices[i];
  return select(-1, r, r >= 0 && u32(r) < p.rows);
}

@compute @workgroup_size(1)
fn bucket() {
  for (var r = 0u; r <= p.rows; r++) {
    lists[r] = 0u;
  }
  for (var i = 0u; i < p.count; i++) {
    let r = row_of(i);
    if (r >= 0) {
      lists[u32(r) + 1u] += 1u;
    }
  }
  for (var r = 1u; r <= p.rows; r++) {
    lists[r] += lists[r - 1u];
  }
  let order = p.rows + 1u;
  for (var i = 0u; i < p.count; i++) {
    let r = row_of(i);
    if (r >= 0) {
      lists[order + lists[u32(r)]] = i;
      lists[u32(r)] += 1u;
    }
  }
}

@compute @workgroup_size(WG)
fn accumulate(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid);
  if (e >= p.n) {
    return;
  }
  let r = e / p.dim;
  let c = e % p.dim;
  let order = p.rows + 1u;
  var start = 0u;
  if (r > 0u) {
    start = lists[r - 1u];
  }
  var acc = 0.0;
  for (var j = start; j < lists[r]; j++) {
    acc += src[lists[order + j] * p.dim + c];
  }
  out[e] = acc;
}
