/**
 * The float16/bfloat16 side of the conformance suite, backend-agnostic: the targets (each CPU
 * tier here; a backend adds its own with `device` and a 16-bit `dtype`), the inputs rounded to
 * the format, and tolerances derived from the format's unit roundoff u = ε/2 (2⁻¹¹ for float16,
 * 2⁻⁸ for bfloat16) and the op's error model (op-table.ts's HalfModel).
 *
 * The derivation. Inputs and the upstream gradient are exact 16-bit values, and the float64
 * reference runs on those same values, so the only errors are the engine's:
 *  - a kernel computes in float32 and rounds its output once to the format: for an elementwise
 *    op, |ŷ − y| ≤ u·|y| + e₃₂, where e₃₂ is the float32 evaluation error — a few float32 ulps
 *    (C32·|y|, C32 = 8·2⁻²⁴: the JavaScript tier's Math.* rounded to float32, the WebAssembly
 *    tier's polynomials, ≈ 1 ulp) plus an absolute 2⁻²² (tanh/gelu near 0);
 *  - a result in the format's subnormal range adds up to minSubnormal/2 per rounding;
 *  - a float32 sum of K products (matmul, reductions) adds γ_K(float32)·Σ|a||b| ≤ K·2⁻²⁴·Σ|a||b|,
 *    below u·max|y| for these shapes (K ≤ 65 here: ≤ 4·10⁻⁶·Σ|a||b|), and every intermediate
 *    rounded to the format (X·A in LoRA, a gradient product before its broadcast sum) adds u
 *    times its own magnitude, which these well-conditioned ops carry to the output with gain
 *    ≲ 1 relative to the largest output — so a chain of R roundings is within R·u·max|y|;
 *  - a backward that reads the forward's rounded output y (tanh: g·(1 − y²), sigmoid, exp,
 *    softmax: y·(g − Σg·y)) differs by |∂dx/∂y|·u·|y| ≤ u·|g| per element, which can be far above
 *    u·|dx| (1 − y² cancels where |y| → 1), as in PyTorch, which saves the 16-bit output too:
 *    so a gradient's scale is max(max|dx|, max|g|), with max|g| ≤ 1 (upstream values lie in [−1, 1]).
 * Hence, for an output whose HalfBound is { rounds: R, normwise }, with S its scale:
 *    |ŷᵢ − yᵢ| ≤ R·u·(|yᵢ| + [normwise]·S) + C32·|yᵢ| + 2⁻²²·[R > 0] + R·minSubnormal,
 * and R = 0 (the op only moves elements) means bit-exact.
 */
import { HALF_FORMATS, decodeHalf, encodeHalf, type HalfDType } from '../../src/half-float.ts';
import { JS_TIER, wasmTier } from '../helpers/cpu-tiers.ts';
import type { Outcome, Target, Tolerances } from './evaluate.ts';
import type { HalfBound, OpEntry, Tol } from './op-table.ts';

export const HALF_DTYPES: readonly HalfDType[] = ['float16', 'bfloat16'];

/** float32 evaluation error, relative (a few ulps) and absolute (functions near 0). */
const C32 = 8 * 2 ** -24, ABS32 = 2 ** -22;

const FORWARD: HalfBound = { rounds: 1, normwise: false };
const GRAD: HalfBound = { rounds: 3, normwise: true };

/** Every CPU tier in a 16-bit dtype (the float64 reference stays the JavaScript tier's). */
export function cpuHalfTargets(dtype: HalfDType): Target[] {
  return [
    { label: `cpu js ${dtype}`, device: 'cpu', dtype, cpu: JS_TIER },
    { label: `cpu wasm 1 thread ${dtype}`, device: 'cpu', dtype, cpu: wasmTier(1) },
    { label: `cpu wasm 3 threads ${dtype}`, device: 'cpu', dtype, cpu: wasmTier(3) },
    { label: `cpu wasm unshared ${dtype}`, device: 'cpu', dtype, cpu: wasmTier(1, false) },
  ];
}

/** values rounded to the format (what a 16-bit tensor of them holds; the reference runs on these). */
export function roundedTo(dtype: HalfDType, values: readonly number[]): number[] {
  const f = HALF_FORMATS[dtype];
  return values.map((v) => decodeHalf(f, encodeHalf(f, v)));
}

/** Whether the op runs in dtype (its HalfModel's dtypes, both by default). */
export function runsIn(op: OpEntry, dtype: HalfDType): boolean {
  return op.half?.dtypes?.includes(dtype) ?? true;
}

/** The largest upstream gradient element (evaluate.ts's upstreamValues lie in [−1, 1]). */
const UPSTREAM_MAX = 1;

/**
 * The tolerance of one output (reference values `ref`) under bound b, as derived above: atol and
 * rtol for |ŷ − y| ≤ atol + rtol·|y|; `floor` is the scale's lower bound (max|g| for a gradient).
 */
export function halfTolerance(dtype: HalfDType, b: HalfBound, ref: ArrayLike<number>, floor = 0): Tol {
  if (b.rounds === 0) return { atol: 0, rtol: 0 };
  const f = HALF_FORMATS[dtype], u = f.epsilon / 2;
  let scale = floor;
  if (b.normwise) for (let i = 0; i < ref.length; i++) if (Number.isFinite(ref[i]!)) scale = Math.max(scale, Math.abs(ref[i]!));
  return { rtol: b.rounds * u + C32, atol: (b.normwise ? b.rounds * u * scale : 0) + ABS32 + b.rounds * f.minSubnormal };
}

/** Whether the op's model asks for the reference run on |inputs| and |upstream| (HalfBound.magnitude). */
export function needsMagnitudeRun(op: OpEntry): boolean {
  return Boolean(op.half?.forward?.magnitude || op.half?.grad?.magnitude);
}

/**
 * The op's forward and gradient tolerances in dtype, as functions of each output's reference
 * values; `magnitude` is the reference outcome on |inputs| and |upstream| where the model asks for it.
 */
export function halfTolerances(op: OpEntry, dtype: HalfDType, magnitude?: Outcome): Tolerances {
  const forward = op.half?.forward ?? FORWARD, grad = op.half?.grad ?? GRAD;
  return {
    tol: (ref) => halfTolerance(dtype, forward, forward.magnitude && magnitude ? magnitude.y : ref),
    gradTol: (ref, i) => halfTolerance(dtype, grad, grad.magnitude && magnitude ? magnitude.grads[i]! : ref, UPSTREAM_MAX),
  };
}
