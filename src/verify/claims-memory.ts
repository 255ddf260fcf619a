/**
 * Claim 8, memory (docs/math.md's table, paper Table 1): the activations each method keeps for
 * backward, counted exactly by measureSaved (deduplicated by storage; parameters cost 0), equal
 * the analytic per-linear model of src/memory/adapters.ts (adapterSavedElements):
 *
 *   Full-FT  N·d        LoRA, LoRA-Pro  N·(d + r)        LoRA-FB  N·d        LoRA-FA  N·r
 *   DoRA     N·(d + r + o)                               VeRA     N·(r + o)
 *
 * elements times the dtype's size, per adapted layer whose input needs no gradient; LoRA-FA
 * keeps N·r also with dropout on (the mask is regenerated from its seed: O(1), and not even a
 * tensor). For a stack of two layers d → o → o₂ the second layer's input needs a gradient,
 * which costs nothing more (the weights are parameters): Full-FT N·(d + o), LoRA
 * N·(d + r) + N·(o + r), LoRA-FB N·(d + o), LoRA-FA 2·N·r. A tensor several ops save (one
 * input read by k adapted linears, directly or through views) counts once: N·d + k·N·r for k
 * LoRA ops on one x. After backward nothing stays saved.
 */
import fc from 'fast-check';
import { linear, lora, loraFA, loraFB } from '../ops.ts';
import { dora } from '../lora/dora.ts';
import { loraPro } from '../lora/lora-pro.ts';
import { vera } from '../lora/vera.ts';
import { add } from '../autograd/ops/elementwise.ts';
import { reshape } from '../autograd/ops/shape.ts';
import { measureSaved, savedStats } from '../autograd/saved.ts';
import { BYTES_PER_ELEMENT } from '../dtype.ts';
import { ones, randn, tensor } from '../factories.ts';
import { initFactor, randomStream } from '../lora/init.ts';
import { Linear } from '../nn/linear.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear } from '../lora/layers.ts';
import { adapterSavedElements, ADAPTER_KINDS, type AdapterKind } from '../memory/adapters.ts';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';
import { worst, type Claim, type FloatDType, type Outcome } from './claim.ts';
import { leak, modelled } from './fault.ts';

type MemoryMethod = 'full' | 'lora' | 'loraFB' | 'loraFA';
const MEMORY_METHODS: readonly MemoryMethod[] = ['full', 'lora', 'loraFB', 'loraFA'];
const KIND: Record<MemoryMethod, AdapterKind> = { full: 'full', lora: 'lora', loraFB: 'lorafb', loraFA: 'lorafa' };

/** Saved activation elements per layer (input [N, d], rank r), from the analytic model (through the model fault hook). */
export function expectedElements(kind: AdapterKind, N: number, d: number, o: number, r: number): number {
  return modelled(adapterSavedElements(kind, { N, d, o, r }));
}

interface MemoryCase {
  N: number;
  d: number;
  o: number;
  o2: number;
  r: number;
  p: number;
  seed: number;
  dtype: FloatDType;
}

const memoryCase: fc.Arbitrary<MemoryCase> = fc
  .record({
    N: fc.integer({ min: 1, max: 32 }),
    d: fc.integer({ min: 1, max: 48 }),
    o: fc.integer({ min: 1, max: 48 }),
    o2: fc.integer({ min: 1, max: 48 }),
    p: fc.constantFrom(0, 0.1, 0.5),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
    dtype: fc.constantFrom<FloatDType>('float64', 'float32'),
  })
  .chain((c) => fc.integer({ min: 1, max: Math.min(c.d, c.o, c.o2) }).map((r) => ({ ...c, r })));

/**
 * Compares measured bytes with the expected element count; after backward the live total must be
 * back where it started (a leak fault leaves a saved tensor alive there: only that check sees it).
 */
function account(what: string, c: { dtype: FloatDType }, expected: number, forward: () => Tensor): Outcome {
  const start = savedStats().liveBytes;
  const report = measureSaved(forward);
  const size = BYTES_PER_ELEMENT[c.dtype];
  const y = report.result;
  y.backward(ones(y.shape, { dtype: c.dtype }));
  leak();
  const leftover = savedStats().liveBytes - start;
  return {
    error: Math.abs(report.bytes - expected * size) + Math.abs(leftover),
    tolerance: 0,
    note: `${what}: saved ${report.bytes} B, expected ${expected} × ${size} B; ${leftover} B left after backward`,
  };
}

/** One layer's sizes, dropout probability p, seed and dtype (what the layer forwards build from). */
export type LayerCase = Omit<MemoryCase, 'o2'>;

/**
 * One layer of any kind through its op, as a forward to run under measureSaved: x [N, d] needs no
 * gradient; W [d, o] frozen except for Full-FT; A [d, r], B [r, o] orthonormal (well conditioned
 * in any dtype, so the frozen one is always accepted); σ = 2, adapter dropout p.
 */
export function singleLayerForward(kind: AdapterKind, c: LayerCase): () => Tensor {
  const x = randn([c.N, c.d], { dtype: c.dtype, seed: c.seed });
  const W = randn([c.d, c.o], { dtype: c.dtype, seed: (c.seed ^ 1) >>> 0, parameter: true });
  const stream = randomStream('memory', c.seed);
  const factor = (rows: number, cols: number, side: 'columns' | 'rows') =>
    tensor(initFactor('memory', 'orthogonal', rows, cols, side, stream), { shape: [rows, cols], dtype: c.dtype, parameter: true });
  const A = factor(c.d, c.r, 'columns'), B = factor(c.r, c.o, 'rows');
  const vector = (n: number, value: number) => tensor(new Float64Array(n).fill(value), { dtype: c.dtype, parameter: true, requiresGrad: true });
  const opts = { scale: 2, dropout: c.p };
  const trained = (t: Tensor, on: boolean) => ((t.requiresGrad = on), t);
  const run: Record<AdapterKind, () => Tensor> = {
    full: () => linear(x, trained(W, true)),
    lora: () => lora(x, trained(W, false), trained(A, true), trained(B, true), opts),
    lorafb: () => loraFB(x, trained(W, false), trained(A, true), trained(B, false), opts),
    lorafa: () => loraFA(x, trained(W, false), trained(A, false), trained(B, true), opts),
    lorapro: () => loraPro(x, trained(W, false), trained(A, true), trained(B, true), opts),
    dora: () => dora(x, trained(W, false), trained(A, true), trained(B, true), vector(c.o, 1), opts),
    vera: () => vera(x, trained(W, false), trained(A, false), trained(B, false), vector(c.r, 0.1), vector(c.o, 0.5), { dropout: c.p }),
  };
  return run[kind];
}

function singleLayer(c: MemoryCase): Outcome {
  return worst(...ADAPTER_KINDS.map((k) => account(`${k} layer`, c, expectedElements(k, c.N, c.d, c.o, c.r), singleLayerForward(k, c))));
}

/** Two layers d → o → o₂ built from nn modules (Linear, LoraLinear, LoraFbLinear, LoraFaLinear). */
function twoLayers(c: MemoryCase): Outcome {
  const layer = (m: MemoryMethod, d: number, o: number, seed: number): Module & { forward(x: Tensor): Tensor } => {
    const base = new Linear(d, o, { dtype: c.dtype, seed });
    const options = { rank: c.r, alpha: 2 * c.r, dropout: c.p, seed, initA: 'orthogonal', initB: m === 'loraFB' ? 'orthogonal' : 'zeros' } as const;
    if (m === 'full') return base;
    return m === 'lora' ? new LoraLinear(base, options) : m === 'loraFB' ? new LoraFbLinear(base, options) : new LoraFaLinear(base, options);
  };
  const x = randn([c.N, c.d], { dtype: c.dtype, seed: c.seed });
  return worst(...MEMORY_METHODS.map((m) => {
    const first = layer(m, c.d, c.o, c.seed), second = layer(m, c.o, c.o2, (c.seed ^ 7) >>> 0);
    const expected = expectedElements(KIND[m], c.N, c.d, c.o, c.r) + expectedElements(KIND[m], c.N, c.o, c.o2, c.r);
    return account(`${m} stack`, c, expected, () => second.forward(first.forward(x)));
  }));
}

type Consumer = 'linear' | 'lora' | 'loraFB' | 'loraFA';

interface SharedCase {
  N: number;
  d: number;
  o: number;
  r: number;
  /** The ops reading x, each directly or through a reshaped view [1, N, d] of it. */
  consumers: { op: Consumer; view: boolean }[];
  seed: number;
  dtype: FloatDType;
}

const sharedCase: fc.Arbitrary<SharedCase> = fc
  .record({
    N: fc.integer({ min: 1, max: 16 }),
    d: fc.integer({ min: 1, max: 24 }),
    o: fc.integer({ min: 1, max: 24 }),
    consumers: fc.array(fc.record({ op: fc.constantFrom<Consumer>('linear', 'lora', 'loraFB', 'loraFA'), view: fc.boolean() }), { minLength: 1, maxLength: 4 }),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
    dtype: fc.constantFrom<FloatDType>('float64', 'float32'),
  })
  .chain((c) => fc.integer({ min: 1, max: Math.min(c.d, c.o) }).map((r) => ({ ...c, r })));

/**
 * One input x [N, d] (no gradient) read by k ops, each directly or through a view: X is saved
 * once however many ops keep it (N·d if any of linear with W trained, lora, loraFB reads it), plus
 * each LoRA and LoRA-FA op's own XA (N·r).
 */
function sharedInput(c: SharedCase): Outcome {
  const x = randn([c.N, c.d], { dtype: c.dtype, seed: c.seed });
  const stream = randomStream('memory', c.seed);
  const factor = (rows: number, cols: number, side: 'columns' | 'rows', trained: boolean) =>
    tensor(initFactor('memory', 'orthogonal', rows, cols, side, stream), { shape: [rows, cols], dtype: c.dtype, parameter: true, requiresGrad: trained });
  const keepsX = c.consumers.some(({ op }) => op !== 'loraFA');
  const xa = c.consumers.filter(({ op }) => op === 'lora' || op === 'loraFA').length;
  const expected = (keepsX ? expectedElements('full', c.N, c.d, c.o, c.r) : 0) + xa * (expectedElements('lorafa', c.N, c.d, c.o, c.r));
  const forward = () => c.consumers.map(({ op, view }, i) => {
    const input = view ? reshape(x, [1, c.N, c.d]) : x;
    const W = randn([c.d, c.o], { dtype: c.dtype, seed: (c.seed + i) >>> 0, parameter: true, requiresGrad: op === 'linear' });
    const A = factor(c.d, c.r, 'columns', op === 'lora' || op === 'loraFB'), B = factor(c.r, c.o, 'rows', op === 'lora' || op === 'loraFA');
    const y = op === 'linear' ? linear(input, W) : { lora, loraFB, loraFA }[op](input, W, A, B, { scale: 2 });
    return y.sum();
  }).reduce((a, b) => add(a, b));
  return account(`${c.consumers.map((k) => `${k.op}${k.view ? ' (view)' : ''}`).join(' + ')} on one x`, c, expected, forward);
}

export function memoryClaims(): Claim<never>[] {
  const one: Claim<MemoryCase> = {
    id: '8 memory, one layer',
    title: 'saved bytes = src/memory per linear: Full-FT N·d, LoRA, LoRA-Pro N(d + r), LoRA-FB N·d, LoRA-FA N·r, DoRA N(d + r + o), VeRA N(r + o) (with dropout too); 0 after backward',
    unit: 'bytes',
    arbitrary: memoryCase,
    check: singleLayer,
    detects: { leak: 1, model: 1 },
  };
  const two: Claim<MemoryCase> = {
    id: '8 memory, two layers',
    title: 'the same for a stack of two nn layers d → o → o₂ (the sums per layer)',
    unit: 'bytes',
    arbitrary: memoryCase,
    check: twoLayers,
    detects: { leak: 1, model: 1 },
  };
  const shared: Claim<SharedCase> = {
    id: '8 memory, shared input',
    title: 'an input read by k ops (directly or through views) is saved once: N·d + (its LoRA and LoRA-FA ops) × N·r',
    unit: 'bytes',
    arbitrary: sharedCase,
    check: sharedInput,
    detects: { leak: 1, model: 1 },
  };
  return [one, two, shared] as Claim<never>[];
}
