/**
 * Claim 8, memory (docs/math.md's table, paper Table 1): the activations each method keeps for
 * backward, counted exactly by measureSaved (deduplicated by storage; parameters cost 0):
 *
 *   Full-FT  N·d        LoRA  N·(d + r)        LoRA-FB  N·d        LoRA-FA  N·r
 *
 * elements times the dtype's size, per adapted layer whose input needs no gradient; LoRA-FA
 * keeps N·r also with dropout on (the mask is regenerated from its seed: O(1), and not even a
 * tensor). For a stack of two layers d → o → o₂ the second layer's input needs a gradient,
 * which costs nothing more (the weights are parameters): Full-FT N·(d + o), LoRA
 * N·(d + r) + N·(o + r), LoRA-FB N·(d + o), LoRA-FA 2·N·r. After backward nothing stays saved.
 */
import fc from 'fast-check';
import { linear, lora, loraFA, loraFB } from '../ops.ts';
import { measureSaved, savedStats } from '../autograd/saved.ts';
import { BYTES_PER_ELEMENT } from '../dtype.ts';
import { ones, randn, tensor } from '../factories.ts';
import { initFactor, randomStream } from '../lora/init.ts';
import { Linear } from '../nn/linear.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear } from '../lora/layers.ts';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';
import { worst, type Claim, type FloatDType, type Outcome } from './claim.ts';

export type MemoryMethod = 'full' | 'lora' | 'loraFB' | 'loraFA';
export const MEMORY_METHODS: readonly MemoryMethod[] = ['full', 'lora', 'loraFB', 'loraFA'];

/** Saved activation elements per layer (input [N, d], rank r). */
export function expectedElements(method: MemoryMethod, N: number, d: number, r: number): number {
  return { full: N * d, lora: N * (d + r), loraFB: N * d, loraFA: N * r }[method];
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

/** Compares measured bytes with the expected element count; after backward the live total must be back where it started. */
function account(what: string, c: MemoryCase, expected: number, forward: () => Tensor): Outcome {
  const start = savedStats().liveBytes;
  const report = measureSaved(forward);
  const size = BYTES_PER_ELEMENT[c.dtype];
  const y = report.result;
  y.backward(ones(y.shape, { dtype: c.dtype }));
  const leftover = savedStats().liveBytes - start;
  return {
    error: Math.abs(report.bytes - expected * size) + Math.abs(leftover),
    tolerance: 0,
    note: `${what}: saved ${report.bytes} B, expected ${expected} × ${size} B; ${leftover} B left after backward`,
  };
}

/** One layer's sizes, dropout probability p, seed and dtype (what singleLayerForward builds from). */
export type LayerCase = Omit<MemoryCase, 'o2'>;

/**
 * One layer through the ops, as a forward to run under measureSaved: x [N, d] needs no gradient;
 * W [d, o] frozen except for Full-FT; A [d, r], B [r, o] orthonormal (well conditioned in any
 * dtype, so the frozen one is always accepted); σ = 2, adapter dropout p.
 */
export function singleLayerForward(method: MemoryMethod, c: LayerCase): () => Tensor {
  const x = randn([c.N, c.d], { dtype: c.dtype, seed: c.seed });
  const W = randn([c.d, c.o], { dtype: c.dtype, seed: (c.seed ^ 1) >>> 0, parameter: true });
  const stream = randomStream('memory', c.seed);
  const factor = (rows: number, cols: number, side: 'columns' | 'rows') =>
    tensor(initFactor('memory', 'orthogonal', rows, cols, side, stream), { shape: [rows, cols], dtype: c.dtype, parameter: true });
  const A = factor(c.d, c.r, 'columns'), B = factor(c.r, c.o, 'rows');
  const opts = { scale: 2, dropout: c.p };
  const trained = (t: Tensor, on: boolean) => ((t.requiresGrad = on), t);
  const run: Record<MemoryMethod, () => Tensor> = {
    full: () => linear(x, trained(W, true)),
    lora: () => lora(x, trained(W, false), trained(A, true), trained(B, true), opts),
    loraFB: () => loraFB(x, trained(W, false), trained(A, true), trained(B, false), opts),
    loraFA: () => loraFA(x, trained(W, false), trained(A, false), trained(B, true), opts),
  };
  return run[method];
}

function singleLayer(c: MemoryCase): Outcome {
  return worst(...MEMORY_METHODS.map((m) => account(`${m} layer`, c, expectedElements(m, c.N, c.d, c.r), singleLayerForward(m, c))));
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
    const expected = expectedElements(m, c.N, c.d, c.r) + expectedElements(m, c.N, c.o, c.r);
    return account(`${m} stack`, c, expected, () => second.forward(first.forward(x)));
  }));
}

export function memoryClaims(): Claim<never>[] {
  const one: Claim<MemoryCase> = {
    id: '8 memory, one layer',
    title: 'saved bytes: Full-FT N·d, LoRA N(d + r), LoRA-FB N·d, LoRA-FA N·r (with dropout too); 0 after backward',
    unit: 'bytes',
    arbitrary: memoryCase,
    check: singleLayer,
  };
  const two: Claim<MemoryCase> = {
    id: '8 memory, two layers',
    title: 'the same for a stack of two nn layers d → o → o₂ (the sums per layer)',
    unit: 'bytes',
    arbitrary: memoryCase,
    check: twoLayers,
  };
  return [one, two] as Claim<never>[];
}
