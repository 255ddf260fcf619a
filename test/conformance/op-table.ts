/**
 * Every op of the `ops` namespace as one table entry: how to draw a case (shapes, parameters),
 * how to run the op on tensors, the input domains, which inputs get gradients, and (rarely)
 * looser tolerances. The conformance suite runs each entry on every backend against the CPU
 * float64 reference; adding an op is adding an entry.
 */
import fc from 'fast-check';
import { ops, prepareLoraFactor, tensor, type Tensor } from '../../src/index.ts';
import type { HalfDType } from '../../src/half-float.ts';
import type { Domain } from '../helpers/check-op.ts';

export interface Case<P> {
  /** Shapes of the float inputs, in the order run() receives them. */
  shapes: number[][];
  p: P;
}

export interface Tol {
  atol: number;
  rtol: number;
}

export interface OpEntry<P = unknown> {
  name: string;
  cases: fc.Arbitrary<Case<P>>;
  run: (xs: Tensor[], p: P) => Tensor;
  /** One domain for every input or one per input (default uniform on [−2, 2]). */
  domain?: Domain | Domain[];
  /** Which inputs require grad (default all; [] for ops with no gradient). */
  grad?: boolean[];
  /** Runs before the op on each backend (e.g. warming the LoRA factor cache on WebGPU). */
  prepare?: (xs: Tensor[]) => Promise<void>;
  tol?: Partial<Tol>;
  gradTol?: Partial<Tol>;
  /** The error model of a float16/bfloat16 run (test/conformance/half.ts derives its tolerances from it). */
  half?: HalfModel;
}

/**
 * How far a 16-bit run may be from the float64 reference on the same (exactly 16-bit) inputs, per
 * output: `rounds` is the number of roundings to the 16-bit format on the longest path from the
 * inputs to that output (0: the op only moves elements and must be bit-exact); `normwise` says the
 * errors scale with the largest |output| rather than with each element — true where float32 sums
 * (reductions, products, normalisations, broadcast gradients) or roundings of intermediates feed
 * the output, false where each element is one float32 function of exact inputs, rounded once.
 */
export interface HalfBound {
  rounds: number;
  normwise: boolean;
  /**
   * The scale is the largest element of the reference run on |inputs| and |upstream| instead of
   * the output's: for a multilinear op whose gradient sums many cancelling products (VeRA's
   * vectors), that run gives Σ|terms|, the magnitude the roundings are relative to.
   */
  magnitude?: boolean;
}

export interface HalfModel {
  /** default { rounds: 1, normwise: false }: one kernel on exact inputs, rounded once. */
  forward?: HalfBound;
  /** default { rounds: 3, normwise: true }: the gradient kernels' products, their rounding, and a sum over broadcast axes. */
  grad?: HalfBound;
  /** The formats the entry runs in (default both): an entry whose domain lies past float16's range skips it. */
  dtypes?: HalfDType[];
  /** Cases that replace the entry's in 16-bit runs. */
  cases?: fc.Arbitrary<Case<unknown>>;
}

/** Identity that keeps each entry's parameter type for its run(). */
function entry<P>(e: OpEntry<P>): OpEntry {
  return e as OpEntry;
}

/** Sizes including 1 and primes; tile edges for matmul. */
const dimA = fc.constantFrom(1, 2, 3, 5, 7, 13);
const tileDim = fc.constantFrom(1, 2, 15, 16, 17, 63, 64, 65);
const shapeA = (min = 0, max = 3) => fc.array(dimA, { minLength: min, maxLength: max });
const one = (s: fc.Arbitrary<number[]>) => s.map((shape) => ({ shapes: [shape], p: null }));

/** A shape that broadcasts to t: a suffix of t with some sizes set to 1; p is t. */
const expandCase = shapeA(0, 3).chain((t) =>
  fc.tuple(fc.nat(t.length), fc.array(fc.boolean(), { minLength: t.length, maxLength: t.length })).map(([drop, ones]) => ({
    shapes: [t.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d))], p: t,
  })));

/** Two shapes where one broadcasts to the other (either order). */
const oneWay = expandCase.chain((c) => fc.boolean().map((swap) => ({ shapes: swap ? [c.shapes[0]!, c.p] : [c.p, c.shapes[0]!], p: null })));

/**
 * Two shapes that broadcast against each other, each stretched along an axis of the other:
 * [..., m, 1] and [..., 1, n] (the leading axes dropped from one of them, or not), e.g. [3, 1] + [1, 4].
 * Backward reduces both gradients.
 */
const mutual = fc.record({ lead: shapeA(0, 1), m: fc.constantFrom(2, 3, 13), n: fc.constantFrom(2, 5, 7), dropLead: fc.boolean(), swap: fc.boolean() })
  .map(({ lead, m, n, dropLead, swap }) => {
    const a = [...lead, m, 1], b = [...(dropLead ? [] : lead), 1, n];
    return { shapes: swap ? [b, a] : [a, b], p: null };
  });

/** Two shapes that broadcast together: one way or both ways. */
const broadcast = fc.oneof(oneWay, mutual);

/** A same-dtype, same-device tensor of values (masks and conditions). */
const like = (x: Tensor, values: number[], shape: number[]) => tensor(values, { shape, dtype: x.dtype, device: x.device });
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const unary = (name: string, f: (x: Tensor) => Tensor, domain: Domain = {}) => entry({ name, cases: one(shapeA()), run: ([x]) => f(x!), domain });

/** Axes of a shape as an arbitrary list (undefined: all axes) with keepdim. */
const reduceCase = shapeA(1, 3).chain((shape) =>
  fc.record({ axes: fc.option(fc.subarray([...shape.keys()], { minLength: 1 }), { nil: undefined }), keepdim: fc.boolean() }).map((p) => ({ shapes: [shape], p })));

/** A matrix pair for op(a)·op(b) with the flags, over tile-edge sizes. */
const matmulCase = fc.record({ m: tileDim, n: tileDim, k: tileDim, transA: fc.boolean(), transB: fc.boolean() }).map((p) => ({
  shapes: [p.transA ? [p.k, p.m] : [p.m, p.k], p.transB ? [p.n, p.k] : [p.k, p.n]],
  p,
}));

/** Batched products: [b, m, k]·[k, n] (folded), [b, m, k]·[b, k, n], [2, 1, m, k]·[3, k, n] (broadcast). */
const batchedCase = fc.record({ m: dimA, n: dimA, k: tileDim, b: fc.constantFrom(1, 2, 3), kind: fc.constantFrom(0, 1, 2) }).map((p) => ({
  shapes: [[[p.b, p.m, p.k], [p.b, p.m, p.k], [2, 1, p.m, p.k]][p.kind]!, [[p.k, p.n], [p.b, p.k, p.n], [3, p.k, p.n]][p.kind]!],
  p,
}));

/** LoRA shapes: x [N, d], W [d, o], A [d, r], B [r, o] with r ≤ d/2 (AᵀA well conditioned), optional dropout. */
const loraCase = fc.record({
  N: fc.constantFrom(1, 3, 17), d: fc.constantFrom(4, 8, 16), o: fc.constantFrom(4, 7, 16), r: fc.constantFrom(1, 2), dropout: fc.constantFrom(0, 0.25),
})
  .map((p) => ({ shapes: [[p.N, p.d], [p.d, p.o], [p.d, p.r], [p.r, p.o]], p }));
const loraOpts = (p: { r: number; dropout: number }) => ({ scale: 4 / p.r, dropout: p.dropout, seed: 17 });
/** loraCase with a bias b [o] after B. */
const withBias = loraCase.map((c) => ({ shapes: [...c.shapes, [c.p.o]], p: c.p }));
/**
 * 16-bit error models of the composite ops: the LoRA family rounds dropout(X), X·A and the fused
 * X·W + σ·(XA)·B (+ bias) — three roundings on the longest path; DoRA adds the column norms and
 * their division, VeRA its two diagonal scalings (four); crossEntropy rounds each row's loss, their
 * sum and the mean (three).
 */
const LORA_HALF: HalfModel = { forward: { rounds: 3, normwise: true } };
/**
 * The ops that solve with AᵀA or BBᵀ accept a condition number up to 0.1/ε of the dtype (gram.ts:
 * 12.8 for bfloat16, 102 for float16), which a random 4×2 matrix often exceeds: in 16-bit they run
 * at rank 1 (test/core/half-lora.test.ts solves at rank 4 with a well-conditioned A).
 */
const SOLVING_HALF: HalfModel = { ...LORA_HALF, cases: loraCase.filter((c) => c.p.r === 1) as fc.Arbitrary<Case<unknown>> };
const FOUR_ROUNDINGS: HalfModel = { forward: { rounds: 4, normwise: true } };
const CE_HALF: HalfModel = { forward: { rounds: 3, normwise: true } };
/** VeRA's vector gradients: sums over N·o cancelling products, bounded by the magnitude run. */
const VERA_HALF: HalfModel = { ...FOUR_ROUNDINGS, grad: { rounds: 3, normwise: true, magnitude: true } };
/**
 * DoRA's backward is the longest chain here: through V = W + σ·A·B, its column norms (squares, a
 * sum over d, a square root), the division by them and the magnitude vector's products, each
 * kernel rounding to the format — twelve roundings on the path to B's gradient.
 */
const DORA_HALF: HalfModel = { ...FOUR_ROUNDINGS, grad: { rounds: 12, normwise: true } };

/** [rows, cols] with row lengths around the row kernels' workgroup sizes (32 … 256). */
const rows2d = fc.tuple(dimA, fc.constantFrom(1, 2, 5, 31, 33, 100)).map(([r, c]) => ({ shapes: [[r, c]], p: null }));
/** [rows, cols] with rows across the largest workgroup (256): the kernels' multi-pass loops. */
const longRows = fc.tuple(fc.constantFrom(1, 2, 3), fc.constantFrom(255, 256, 257, 513)).map(([r, c]) => ({ shapes: [[r, c]], p: null }));
/** Logits around 1e5: (x − m) − ln s stays exact where x − (m + ln s) loses up to ½ulp(1e5) ≈ 4e-3. */
const LARGE_LOGITS = { min: 1e5 - 6, max: 1e5 + 6 };
/** Past float16's largest finite value (65504): those entries run in bfloat16 only. */
const BEYOND_FLOAT16: HalfModel = { dtypes: ['bfloat16'] };

/** Integer targets for rows of logits: −100 (ignored) or a class; row 0 never ignored. */
const ceCase = (rows: fc.Arbitrary<{ shapes: number[][] }>) => rows.chain(({ shapes: [[n, c]] }) =>
  fc.array(fc.integer({ min: -1, max: c! - 1 }), { minLength: n!, maxLength: n! }).map((t) => ({
    shapes: [[n!, c!]], p: t.map((v, i) => (v < 0 && i > 0 ? -100 : Math.max(v, 0))),
  })));

export const OPS: OpEntry[] = [
  entry({ name: 'add', cases: broadcast, run: ([a, b]) => ops.add(a!, b!) }),
  entry({ name: 'sub', cases: broadcast, run: ([a, b]) => ops.sub(a!, b!) }),
  entry({ name: 'mul', cases: broadcast, run: ([a, b]) => ops.mul(a!, b!) }),
  entry({ name: 'div', cases: broadcast, run: ([a, b]) => ops.div(a!, b!), domain: [{}, { awayFromZero: 0.5 }] }),
  unary('neg', ops.neg),
  unary('exp', ops.exp, { min: -5, max: 5 }),
  unary('log', ops.log, { min: 0.05, max: 5 }),
  unary('sqrt', ops.sqrt, { min: 0.05, max: 5 }),
  unary('abs', ops.abs, { awayFromZero: 0.05 }),
  unary('tanh', ops.tanh, { min: -5, max: 5 }),
  unary('sigmoid', ops.sigmoid, { min: -8, max: 8 }),
  unary('relu', ops.relu, { awayFromZero: 0.05 }),
  unary('gelu (tanh)', (x) => ops.gelu(x), { min: -6, max: 6 }),
  unary('gelu (erf)', (x) => ops.gelu(x, { approximate: 'none' }), { min: -6, max: 6 }),
  unary('silu', ops.silu, { min: -8, max: 8 }),
  entry({
    name: 'pow', cases: shapeA().chain((s) => fc.constantFrom(2, 3, -1).map((e) => ({ shapes: [s], p: e }))), run: ([x], e) => ops.pow(x!, e),
    domain: { awayFromZero: 0.3 },
  }),
  entry({ name: 'pow (fractional)', cases: one(shapeA()), run: ([x]) => ops.pow(x!, 0.5), domain: { min: 0.1, max: 4 } }),
  entry({ name: 'sum', cases: reduceCase, run: ([x], p) => ops.sum(x!, p.axes, p.keepdim), half: { forward: { rounds: 1, normwise: true } } }),
  entry({ name: 'mean', cases: reduceCase, run: ([x], p) => ops.mean(x!, p.axes, p.keepdim), half: { forward: { rounds: 2, normwise: true } } }),
  entry({ name: 'max', cases: reduceCase, run: ([x], p) => ops.max(x!, p.axes, p.keepdim), domain: { distinct: true } }),
  entry({
    name: 'reshape', cases: shapeA(1, 3).map((s) => ({ shapes: [s], p: [size(s)] })), run: ([x], p) => ops.reshape(ops.tanh(x!), p),
  }),
  entry({
    name: 'permute', cases: shapeA(1, 4).chain((s) => fc.shuffledSubarray([...s.keys()], { minLength: s.length }).map((dims) => ({ shapes: [s], p: dims }))),
    run: ([x], dims) => ops.permute(x!, dims),
  }),
  entry({ name: 'transpose', cases: one(shapeA(2, 3)), run: ([x]) => ops.transpose(x!) }),
  entry({
    name: 'slice',
    cases: shapeA(1, 3).chain((s) => fc.nat(s.length - 1).chain((axis) =>
      fc.tuple(fc.nat(s[axis]!), fc.nat(s[axis]!)).map(([a, b]) => ({ shapes: [s], p: { axis, start: Math.min(a, b), end: Math.max(a, b) } })))),
    run: ([x], p) => ops.slice(x!, p.axis, p.start, p.end),
  }),
  entry({
    name: 'concat',
    cases: fc.tuple(shapeA(1, 3), fc.array(dimA, { minLength: 2, maxLength: 3 })).chain(([s, sizes]) => fc.nat(s.length - 1).map((axis) => ({
      shapes: sizes.map((n) => s.map((d, i) => (i === axis ? n : d))), p: axis,
    }))),
    run: (xs, axis) => ops.concat(xs, axis),
  }),
  entry({ name: 'expand', cases: expandCase, run: ([x], shape) => ops.expand(x!, shape) }),
  entry({
    name: 'matmul', cases: matmulCase, run: ([a, b], p) => ops.matmul(a!, b!, { transA: p.transA, transB: p.transB }),
    tol: { atol: 1e-4 }, gradTol: { atol: 2e-4 }, half: { forward: { rounds: 1, normwise: true } },
  }),
  entry({ name: 'matmul (batched)', cases: batchedCase, run: ([a, b]) => ops.matmul(a!, b!), tol: { atol: 1e-4 }, gradTol: { atol: 2e-4 }, half: { forward: { rounds: 1, normwise: true } } }),
  entry({
    name: 'softmax', cases: shapeA(1, 3).map((s) => ({ shapes: [s], p: s.length > 1 ? 0 : -1 })), run: ([x], axis) => ops.softmax(x!, axis),
    domain: { min: -6, max: 6 },
  }),
  entry({ name: 'softmax (last axis)', cases: rows2d, run: ([x]) => ops.softmax(x!), domain: { min: -6, max: 6 } }),
  entry({ name: 'logSoftmax', cases: rows2d, run: ([x]) => ops.logSoftmax(x!), domain: { min: -6, max: 6 }, half: { forward: { rounds: 1, normwise: true } } }),
  entry({ name: 'layerNorm', cases: rows2d.map(({ shapes: [[r, c]] }) => ({ shapes: [[r!, c!], [c!], [c!]], p: null })), run: ([x, g, b]) => ops.layerNorm(x!, g!, b!), half: { forward: { rounds: 1, normwise: true } } }),
  entry({ name: 'layerNorm (no affine)', cases: rows2d.map(({ shapes: [s] }) => ({ shapes: [[2, ...s!]], p: null })), run: ([x]) => ops.layerNorm(x!), half: { forward: { rounds: 1, normwise: true } } }),
  entry({ name: 'crossEntropy', cases: ceCase(rows2d), run: ([z], t) => ops.crossEntropy(z!, t), half: CE_HALF, domain: { min: -6, max: 6 } }),
  entry({ name: 'softmax (long rows, large logits)', cases: longRows, run: ([x]) => ops.softmax(x!), domain: LARGE_LOGITS, half: BEYOND_FLOAT16 }),
  entry({ name: 'logSoftmax (long rows, large logits)', cases: longRows, run: ([x]) => ops.logSoftmax(x!), domain: LARGE_LOGITS, half: { ...BEYOND_FLOAT16, forward: { rounds: 1, normwise: true } } }),
  entry({ name: 'crossEntropy (long rows)', cases: ceCase(longRows), run: ([z], t) => ops.crossEntropy(z!, t), half: CE_HALF, domain: { min: -6, max: 6 } }),
  entry({ name: 'crossEntropy (long rows, large logits)', cases: ceCase(longRows), run: ([z], t) => ops.crossEntropy(z!, t), half: { ...CE_HALF, ...BEYOND_FLOAT16 }, domain: LARGE_LOGITS }),
  entry({
    name: 'layerNorm (long rows)', cases: longRows.map(({ shapes: [[r, c]] }) => ({ shapes: [[r!, c!], [c!], [c!]], p: null })),
    run: ([x, g, b]) => ops.layerNorm(x!, g!, b!),
  }),
  entry({
    name: 'sum (long rows)', cases: longRows.chain((c) => fc.constantFrom([1], [0, 1]).map((axes) => ({ ...c, p: axes }))), run: ([x], axes) => ops.sum(x!, axes),
  }),
  entry({
    name: 'max (long rows)', cases: longRows.chain((c) => fc.constantFrom([1], [0, 1]).map((axes) => ({ ...c, p: axes }))), run: ([x], axes) => ops.max(x!, axes),
    domain: { distinct: true },
  }),
  entry({
    name: 'embedding',
    cases: fc.tuple(dimA, dimA).chain(([V, D]) => fc.array(fc.nat(V - 1), { minLength: 1, maxLength: 9 }).map((idx) => ({ shapes: [[V, D]], p: idx }))),
    run: ([table], idx) => ops.embedding(table!, idx),
  }),
  entry({
    name: 'dropout', cases: shapeA(1, 3).chain((s) => fc.constantFrom(0.1, 0.5).map((p) => ({ shapes: [s], p }))), run: ([x], p) => ops.dropout(x!, p, { seed: 5 }),
  }),
  entry({
    name: 'eq', cases: broadcast, run: ([a, b]) => ops.eq(ops.cast(ops.cast(a!, 'int32'), a!.dtype), ops.cast(ops.cast(b!, 'int32'), b!.dtype)),
    grad: [], domain: { min: -2, max: 2 },
  }),
  entry({ name: 'gt', cases: broadcast, run: ([a, b]) => ops.gt(a!, b!), grad: [] }),
  entry({
    name: 'where',
    cases: broadcast.chain((c) => fc.array(fc.boolean(), { minLength: size(c.shapes[1]!), maxLength: size(c.shapes[1]!) }).map((mask) => ({ ...c, p: mask }))),
    run: ([a, b], mask) => ops.where(like(a!, mask.map(Number), b!.shape as number[]), a!, b!),
  }),
  entry({
    name: 'maskedFill',
    cases: shapeA(1, 3).chain((s) => fc.array(fc.boolean(), { minLength: size(s), maxLength: size(s) }).map((mask) => ({ shapes: [s], p: mask }))),
    run: ([x], mask) => ops.maskedFill(x!, like(x!, mask.map(Number), x!.shape as number[]), -3),
  }),
  entry({ name: 'cast (to int32)', cases: one(shapeA()), run: ([x]) => ops.cast(x!, 'int32'), grad: [], domain: { min: -50, max: 50 } }),
  // most values beyond ±2³¹: they saturate (NaN → 0 is in test/webgpu/kernels-elementwise.test.ts)
  entry({ name: 'cast (to int32, out of range)', cases: one(shapeA(1, 3)), run: ([x]) => ops.cast(x!, 'int32'), grad: [], domain: { min: -6e9, max: 6e9 } }),
  entry({
    name: 'linear', cases: loraCase.map((c) => ({ shapes: [c.shapes[0]!, c.shapes[1]!, [c.p.o]], p: c.p })), run: ([x, W, b]) => ops.linear(x!, W!, b!),
    gradTol: { atol: 2e-4 },
  }),
  entry({ name: 'lora', cases: loraCase, run: ([x, W, A, B], p) => ops.lora(x!, W!, A!, B!, loraOpts(p)), half: LORA_HALF, gradTol: { atol: 2e-4 } }),
  entry({
    name: 'loraFA', cases: loraCase, run: ([x, W, A, B], p) => ops.loraFA(x!, W!, A!, B!, loraOpts(p)), half: SOLVING_HALF, grad: [true, false, false, true],
    prepare: ([, , A]) => prepareLoraFactor(A!, 'columns'), gradTol: { atol: 5e-4, rtol: 2e-3 },
  }),
  // the bias option (b added by X·W's epilogue, its gradient Σ rows of dY), as the adapter layers use it
  entry({
    name: 'lora (bias)', cases: withBias, run: ([x, W, A, B, b], p) => ops.lora(x!, W!, A!, B!, { ...loraOpts(p), bias: b! }), half: LORA_HALF, gradTol: { atol: 2e-4 },
  }),
  entry({
    name: 'loraFA (bias)', cases: withBias, run: ([x, W, A, B, b], p) => ops.loraFA(x!, W!, A!, B!, { ...loraOpts(p), bias: b! }),
    half: { ...SOLVING_HALF, cases: withBias.filter((c) => c.p.r === 1) as fc.Arbitrary<Case<unknown>> },
    grad: [true, false, false, true, true], prepare: ([, , A]) => prepareLoraFactor(A!, 'columns'), gradTol: { atol: 5e-4, rtol: 2e-3 },
  }),
  entry({
    name: 'loraFB', cases: loraCase, run: ([x, W, A, B], p) => ops.loraFB(x!, W!, A!, B!, loraOpts(p)), half: SOLVING_HALF, grad: [true, false, true, false],
    prepare: ([, , , B]) => prepareLoraFactor(B!, 'rows'), gradTol: { atol: 5e-4, rtol: 2e-3 },
  }),
  entry({
    name: 'loraPro', cases: loraCase, run: ([x, W, A, B], p) => ops.loraPro(x!, W!, A!, B!, loraOpts(p)), half: SOLVING_HALF, grad: [true, false, true, true],
    prepare: async ([, , A, B]) => { await prepareLoraFactor(A!, 'columns'); await prepareLoraFactor(B!, 'rows'); }, gradTol: { atol: 5e-4, rtol: 2e-3 },
  }),
  entry({
    name: 'dora', cases: loraCase.map((c) => ({ shapes: [...c.shapes, [c.p.o]], p: c.p })), run: ([x, W, A, B, m], p) => ops.dora(x!, W!, A!, B!, m!, loraOpts(p)), half: DORA_HALF,
    grad: [true, false, true, true, true], gradTol: { atol: 5e-4, rtol: 2e-3 },
  }),
  entry({
    name: 'vera', cases: loraCase.map((c) => ({ shapes: [...c.shapes, [c.p.r], [c.p.o]], p: c.p })),
    run: ([x, W, A, B, dv, bv], p) => ops.vera(x!, W!, A!, B!, dv!, bv!, { dropout: p.dropout, seed: 17 }), half: VERA_HALF, grad: [true, false, false, false, true, true],
    gradTol: { atol: 2e-4 },
  }),
];
