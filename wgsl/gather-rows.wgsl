// gatherRows (embedding lookup): out[i, c] = table[indices[i], c], or 0 when indices[i] is outside
// [0, tableRows) (as the CPU kernel).
// Out-of-range indices are NOT an error on WebGPU: a shader cannot throw, and checking would need a
// read-back inside forward. ops.embedding on the CPU reads its indices and throws; on WebGPU the
// row silently comes out as zeros (and scatter-add-rows.wgsl drops its gradient). Check indices
// that may be out of range before they go to the GPU.
//
// Elements are copied as raw words (float32, int32), or with HALF as 16-bit patterns packed two
// per word (float16, bfloat16: element 2k in the low half of word k), one thread per output word.
//
// Bindings:  @binding(0) uniform Params { n = count·dim, dim, tableRows }
//            @binding(1) table [tableRows·dim]   @binding(2) indices: array<i32> [count]
//            @binding(3) out [count·dim]
// Overrides: HALF, WG
// Grid:      ceil(words of out / WG) workgroups, split over x and y when above 65535

override HALF: bool = false;


struct Params {
  n: u32,
  dim: u32,
  tableRows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

/// Where output element i comes from in the table, or −1 for a zero (index out of range).
fn source(i: u32) -> i32 {
  let r = indices[i / p.dim];
  if (r < 0 || u32(r) >= p.tableRows) {
    return -1;
  }
  return i32(u32(r) * p.dim + i % p.dim);
}

/// The 16-bit pattern of output element i (< n).
fn half_of(i: u32) -> u32 {
  let s = source(i);
  if (s < 0) {
    return 0u;
  }
  return (table[u32(s) >> 1u] >> ((u32(s) & 1u) * 16u)) & 0xffffu;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let k = flat_index(wid, nwg, lid);
  if (HALF) {
    let i = 2u * k;
    if (i < p.n) {
      out[k] = half_of(i) | (select(0u, half_of(i + 1u), i + 1u < p.n) << 16u);
    }
    return;
  }
  if (k >= p.n) {
    return;
  }
  let s = source(k);
  out[k] = select(table[max(s, 0)], 0u, s < 0);
}
