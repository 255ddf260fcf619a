// A plain Node ESM consumer of the installed package: LoRA-FA forward + backward on the CPU.
import { measureSaved, ops, randn } from 'lorafa';
import { N, d, o, r, sigma, problem } from './problem.mjs';

// float32: what the op keeps for backward, and the values the browser run is compared with
const p32 = problem(randn, 'float32');
const { bytes, result: y32 } = measureSaved(() => ops.loraFA(p32.x, p32.W, p32.A, p32.B, { scale: sigma }));
y32.backward(p32.dY);

// float64: σ·A·g̃_B against P_A·G, with G = Xᵀ·dY and P_A·G = A·(AᵀA)⁻¹·Aᵀ·G computed here in plain JavaScript
const p = problem(randn, 'float64');
ops.loraFA(p.x, p.W, p.A, p.B, { scale: sigma }).backward(p.dY);
const [X, A, dY, gB] = [p.x, p.A, p.dY, p.B.grad].map((t) => t.dataSync());
const matmul = (a, b, m, k, n, transA = false) => {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let l = 0; l < k; l++) {
    const av = transA ? a[l * m + i] : a[i * k + l];
    for (let j = 0; j < n; j++) c[i * n + j] += av * b[l * n + j];
  }
  return c;
};
/** Solves M·Z = R (M [n, n], R [n, cols]) by Gaussian elimination with partial pivoting. */
const solve = (M, R, n, cols) => {
  const m = Float64Array.from(M), z = Float64Array.from(R);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(m[i * n + c]) > Math.abs(m[piv * n + c])) piv = i;
    for (let j = 0; j < n; j++) [m[c * n + j], m[piv * n + j]] = [m[piv * n + j], m[c * n + j]];
    for (let j = 0; j < cols; j++) [z[c * cols + j], z[piv * cols + j]] = [z[piv * cols + j], z[c * cols + j]];
    for (let i = 0; i < n; i++) {
      if (i === c) continue;
      const f = m[i * n + c] / m[c * n + c];
      for (let j = 0; j < n; j++) m[i * n + j] -= f * m[c * n + j];
      for (let j = 0; j < cols; j++) z[i * cols + j] -= f * z[c * cols + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) z[i * cols + j] /= m[i * n + i];
  return z;
};
const G = matmul(X, dY, d, N, o, true); //                        [d, o]
const PG = matmul(A, solve(matmul(A, A, r, d, r, true), matmul(A, G, r, d, o, true), r, o), d, r, o);
const update = matmul(A, gB, d, r, o).map((v) => sigma * v); //  σ·A·g̃_B  [d, o]
let diff = 0, size = 0;
for (let i = 0; i < PG.length; i++) {
  diff += (update[i] - PG[i]) ** 2;
  size += PG[i] ** 2;
}
console.log(JSON.stringify({
  bytes, expectedBytes: N * r * 4, relError: Math.sqrt(diff / size),
  y: [...y32.dataSync()], gradB: [...p32.B.grad.dataSync()],
}));
