/** Deterministic values in [−1, 1) (a small LCG), stored in the dtype under test. */
export function filled(dtype: 'float32' | 'float64', size: number, seed: number): Float32Array | Float64Array {
  const x = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}
