// gatherRows (embedding lookup): out[i, c] = table[indices[i], c], or 0 when indices[i] is outside
// [0, tableRows) (as the CPU kernel).
// Out-of-range indices are NOT an error on WebGPU: a shader cannot throw, and checking would need a
// read-back inside forward. ops.embedding on the CPU reads its indices and throws; on WebGPU the
// row silently comes out as zeros (and scatter-add-rows.wgsl drops its gradient). Check indices
// that may be out of range before they go to the GPU.
//
// Bindings:  @binding(0) uniform Params { n = count·dim, dim, tableRows }
//            @binding(1) table [tableRows·dim]   @binding(2) indices: array<i32> [count]
//            @binding(3) out [count·dim]
// Overrides: WG
// Grid:      ceil(n / WG) workgroups, split over x and y when above 65535


struct Params {
  n: u32,
  dim: u32,
  tableRows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let r = indices[i / p.dim];
  if (r < 0 || u32(r) >= p.tableRows) {
    out[i] = 0.0;
    return;
  }
  out[i] = table[u32(r) * p.dim + i % p.dim];
}
