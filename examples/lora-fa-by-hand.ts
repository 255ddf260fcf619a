/**
 * LoRA-FA by hand: from Full-FT's gradient G to LoRA-FA's corrected gradient g̃_B, on numbers
 * small enough to read. Run: npx tsx examples/lora-fa-by-hand.ts
 *
 * A layer y = x·W + σ·(x·A)·B with W [d, o] frozen, A [d, r] frozen, B [r, o] trained.
 * Here N = 3 rows, d = 4 inputs, o = 2 outputs, rank r = 2, α = 4, so σ = α/r = 2.
 */
import { linalg, measureSaved, ops, tensor, type NestedArray, type Tensor } from '../src/index.ts';

const f64 = { dtype: 'float64' as const };
const show = (label: string, t: Tensor) => {
  const round = (v: NestedArray): NestedArray => (Array.isArray(v) ? v.map(round) : Math.round(v * 1e4) / 1e4);
  console.log(`${label.padEnd(38)} ${JSON.stringify(round(t.toArraySync()))}`);
};

const X = tensor([[1, 0, 2, -1], [0, 1, 1, 0], [2, -1, 0, 1]], f64); //    [N, d]
const W = tensor([[0.5, 0], [0, 0.5], [0.1, 0.2], [0.3, -0.1]], { ...f64, parameter: true }); // [d, o]
const A = tensor([[1, 0], [1, 1], [0, 1], [0, 0]], { ...f64, parameter: true }); //           [d, r], frozen
const sigma = 4 / 2;
const dY = tensor([[1, 0], [0, -1], [1, 1]], f64); //                          ∂L/∂y  [N, o]

// 1. What Full-FT would use: G = Xᵀ·dY [d, o]. We get it from the engine's autograd,
//    through ops.linear with W trainable (no LoRA code involved).
const Wt = tensor(W.toArraySync() as number[][], { ...f64, requiresGrad: true });
ops.linear(X, Wt).backward(dY);
const G = Wt.grad!;
show('1. G = Xᵀ·dY', G);

// 2. Plain LoRA's gradient for B (the chain rule): g_B = σ·(XA)ᵀ·dY = σ·Aᵀ·G [r, o].
const gB = ops.mul(ops.matmul(A, G, { transA: true }), sigma);
show('2. g_B = σ·Aᵀ·G', gB);

// 3. A SGD step on B changes the effective weight by ΔW = −η·σ·A·g. Which g makes σ·A·g
//    closest to G? Least squares: g̃_B = (1/σ²)·(AᵀA)⁻¹·g_B. AᵀA is r×r and fixed while A is
//    frozen, so LoRA-FA factors it once (Cholesky, in float64) and reuses it every step.
const AtA = ops.matmul(A, A, { transA: true });
show('3. AᵀA (r×r)', AtA);
show('   its Cholesky factor L (L·Lᵀ = AᵀA)', linalg.cholesky(AtA));
const corrected = ops.mul(linalg.solvePosDef(AtA, gB), 1 / sigma ** 2);
show('   g̃_B = (1/σ²)(AᵀA)⁻¹·g_B', corrected);

// 4. ops.loraFA computes exactly that in its backward pass.
export const B = tensor([[0, 0], [0, 0]], { ...f64, parameter: true, requiresGrad: true }); // (exported for test/lora/example.test.ts)
const { result: y, entries } = measureSaved(() => ops.loraFA(X, W, A, B, { scale: sigma }));
y.backward(dY);
show('4. ops.loraFA → B.grad', B.grad!);

// 5. Why it is the right gradient: σ·A·g̃_B is the projection of G onto the columns of A,
//    P_A·G with P_A = A(AᵀA)⁻¹Aᵀ, and what is left over is orthogonal to A.
const update = ops.mul(ops.matmul(A, B.grad!), sigma);
show('5. σ·A·g̃_B  (= P_A·G)', update);
show('   Aᵀ·(G − σ·A·g̃_B)  (= 0)', ops.matmul(A, ops.sub(G, update), { transA: true }));

// 6. And the memory: backward needed only XA [N, r] — never X [N, d]. (The [r, r] entry is the
//    cached Cholesky factor, a constant like a weight: it costs no activation bytes.)
console.log('6. saved for backward:', entries.map((e) => `${e.kind} [${e.shape.join(', ')}] ${e.bytes} B`).join('; '));
