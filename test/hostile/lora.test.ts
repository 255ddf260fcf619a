/**
 * Hostile inputs to the LoRA family (see verdict.ts): option objects of every wrong kind for the
 * ops and the layers, method names that are JavaScript object keys, state dicts with wrong names,
 * shapes, dtypes and values. Every case ends in a clear error or in a result checked independently.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { nn, ops, randn, tensor, type Tensor } from '../../src/index.ts';
import { applyAdapters, DEFAULT_TARGETS } from '../../src/lora/adapters.ts';
import { LoraAdapterLinear, LoraFaLinear, LoraFbLinear, LoraLinear } from '../../src/lora/layers.ts';
import { Linear } from '../../src/nn/linear.ts';
import { GPT } from '../../src/nn/transformer.ts';
import * as ref from '../helpers/reference.ts';
import { judge, summary } from './verdict.ts';

const RUNS = { numRuns: 200 };
afterAll(() => console.log(summary()));

/** Values a careless caller passes where a number or a name is expected. */
const junk = fc.constantFrom<unknown>(undefined, null, NaN, Infinity, -Infinity, -1, 0, 0.5, 1, 2, 1e308, 2 ** 32, '1', 'closed-form', 'none', '__proto__', 'constructor', 'toString', true, {}, []);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: a }, { weight: 1, arbitrary: junk });

const f64 = { dtype: 'float64' } as const;

describe('hostile inputs: the LoRA ops', () => {
  it('lora, loraFA and loraFB with any options object, on fitting or misfitting shapes', () => {
    const options = fc.oneof(
      { weight: 1, arbitrary: junk },
      { weight: 6, arbitrary: fc.record({
        scale: maybe(fc.double({ min: -4, max: 4, noNaN: true })),
        dropout: maybe(fc.constantFrom(0, 0.25, 0.5)),
        seed: maybe(fc.integer({ min: 0, max: 1000 })),
        correction: maybe(fc.constantFrom('closed-form', 'none')),
        ridge: maybe(fc.constantFrom(0, 0.1)),
      }, { requiredKeys: [] }) },
    );
    const op = fc.constantFrom('lora', 'loraFA', 'loraFB') as fc.Arbitrary<'lora' | 'loraFA' | 'loraFB'>;
    fc.assert(fc.property(op, options, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 }), (name, opts, r, misfit) => {
      const [N, d, o] = [3, 5, 4];
      const x = randn([N, d], { ...f64, seed: 1 });
      const W = randn([d, o], { ...f64, seed: 2, parameter: true });
      const A = randn([misfit === 1 ? d + 1 : d, r], { ...f64, seed: 3, parameter: true, requiresGrad: name === 'lora' || name === 'loraFB' });
      const B = randn([r, misfit === 2 ? o + 1 : o], { ...f64, seed: 4, parameter: true, requiresGrad: name !== 'loraFB' });
      judge(`ops.${name} options`, [name], () => ops[name](x, W, A, B, opts as never), (y) => {
        const { scale, dropout = 0, seed } = opts as { scale: number; dropout?: number; seed?: number };
        const X = ref.nd([N, d], x.dataSync());
        const mask = dropout > 0 && seed !== undefined ? ops.dropout(tensor(new Float64Array(N * d).fill(1), { shape: [N, d], dtype: 'float64' }), dropout, { seed }).dataSync() : null;
        if (dropout > 0 && seed === undefined) return void expect(y.shape).toEqual([N, o]); // the global stream's mask: shape only
        const Xd = mask ? ref.zip(X, ref.nd([N, d], mask), (a, m) => a * m) : X;
        const XW = ref.matmul(X, ref.nd([d, o], W.dataSync()));
        const XAB = ref.matmul(ref.matmul(Xd, ref.nd([d, r], A.dataSync())), ref.nd([r, o], B.dataSync()));
        y.dataSync().forEach((v, i) => expect(v).toBeCloseTo(XW.data[i]! + scale * XAB.data[i]!, 10));
      });
    }), RUNS);
  });
});

describe('hostile inputs: the LoRA layers and applyAdapters', () => {
  const layers = { LoraLinear, LoraFaLinear, LoraFbLinear } as const;

  it('a layer from any options object keeps exactly what it was given', () => {
    const options = fc.oneof(
      { weight: 1, arbitrary: junk },
      { weight: 6, arbitrary: fc.record({
        rank: maybe(fc.integer({ min: 1, max: 6 })),
        alpha: maybe(fc.double({ min: -8, max: 8, noNaN: true })),
        dropout: maybe(fc.constantFrom(0, 0.1)),
        initA: maybe(fc.constantFrom('gaussian', 'uniform', 'orthogonal', 'zeros')),
        initB: maybe(fc.constantFrom('gaussian', 'uniform', 'orthogonal', 'zeros')),
        seed: maybe(fc.integer({ min: 0, max: 1000 })),
        correction: maybe(fc.constantFrom('closed-form', 'none')),
        ridge: maybe(fc.constantFrom(0, 0.5)),
      }, { requiredKeys: [] }) },
    );
    fc.assert(fc.property(fc.constantFrom('LoraLinear', 'LoraFaLinear', 'LoraFbLinear') as fc.Arbitrary<keyof typeof layers>, options, (name, opts) => {
      const base = new Linear(5, 4, { seed: 1, dtype: 'float64' });
      judge(`nn.${name} options`, [name], () => new layers[name](base, opts as never), (layer) => {
        const o = opts as { rank: number; alpha: number };
        expect(layer.rank).toBe(o.rank);
        expect(layer.scale).toBe(o.alpha / o.rank);
        expect([layer.A.shape, layer.B.shape]).toEqual([[5, o.rank], [o.rank, 4]]);
        const x = randn([2, 5], { ...f64, seed: 9 });
        layer.eval();
        const expected = ref.matmul(ref.nd([2, 5], x.dataSync()), ref.nd([5, 4], base.weight.dataSync()));
        const AB = ref.matmul(ref.nd([5, o.rank], layer.A.dataSync()), ref.nd([o.rank, 4], layer.B.dataSync()));
        const XAB = ref.matmul(ref.nd([2, 5], x.dataSync()), AB);
        const bias = base.bias!.dataSync();
        layer.forward(x).dataSync().forEach((v, i) => expect(v).toBeCloseTo(expected.data[i]! + layer.scale * XAB.data[i]! + bias[i % 4]!, 10));
      });
    }), RUNS);
  });

  it('applyAdapters with any method name and targets, JavaScript object keys included', () => {
    const method = fc.constantFrom<unknown>('lora', 'lorafa', 'lorafb', 'constructor', 'toString', '__proto__', 'hasOwnProperty', 'LoRA', '', 7);
    const targets = fc.oneof(fc.constant(undefined), fc.subarray(['q', 'k', 'v', 'o', 'up', 'down', 'constructor', 'toString', '__proto__']), fc.constant(/attn\.q$/));
    fc.assert(fc.property(method, targets, fc.integer({ min: 1, max: 3 }), (m, t, rank) => {
      const model = new GPT({ vocab: 5, dim: 8, heads: 2, layers: 1, context: 4 }, { seed: 1 });
      const expectedClass = { lora: LoraLinear, lorafa: LoraFaLinear, lorafb: LoraFbLinear }[m as string];
      judge('applyAdapters', ['applyAdapters'], () => applyAdapters(model, { method: m as never, rank, alpha: 2, ...(t ? { targets: t } : {}) }), (report) => {
        const names = t instanceof RegExp ? ['blocks.0.attn.q'] : (t ?? DEFAULT_TARGETS).filter((n) => (DEFAULT_TARGETS as readonly string[]).includes(n));
        const adapted = model.namedModules().filter(([, mod]) => mod instanceof LoraAdapterLinear);
        expect(report.replaced).toEqual(adapted.map(([p]) => p));
        expect(adapted.length).toBe(t instanceof RegExp ? 1 : names.length);
        for (const [, mod] of adapted) expect(mod).toBeInstanceOf(expectedClass!);
      });
    }), RUNS);
  });

  it('loadStateDict with any names and values: all or nothing', () => {
    const value = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom<[number[], string]>([[2, 3], 'float32'], [[2, 3], 'float64'], [[3, 2], 'float32'], [[2, 3], 'int32'], [[6], 'float32']) },
      { weight: 1, arbitrary: junk },
    );
    const name = fc.constantFrom('weight', 'bias', 'constructor', '__proto__', 'toString', 'weight.extra');
    fc.assert(fc.property(fc.dictionary(name, value, { maxKeys: 3 }), fc.boolean(), (entries, strict) => {
      const layer = new Linear(2, 3, { seed: 1 });
      const before = { w: [...layer.weight.dataSync()], b: [...layer.bias!.dataSync()] };
      const state: Record<string, Tensor> = Object.create(null);
      const given: Record<string, number[] | null> = Object.create(null);
      for (const [k, v] of Object.entries(entries)) {
        const t = Array.isArray(v) && Array.isArray(v[0])
          ? tensor(Array.from({ length: ref.size(v[0] as number[]) }, (_, i) => i + 1), { shape: v[0] as number[], dtype: v[1] as never })
          : v;
        state[k] = t as Tensor;
        given[k] = Array.isArray(v) && Array.isArray(v[0]) ? (t as Tensor).shape.length === (k === 'bias' ? 1 : 2) ? [...(t as Tensor).dataSync()] : null : null;
      }
      judge('loadStateDict', ['loadStateDict'], () => layer.loadStateDict(state, { strict }), () => {
        for (const [k, t] of [['weight', layer.weight], ['bias', layer.bias!]] as const) {
          if (Object.hasOwn(state, k)) expect([...t.dataSync()]).toEqual(given[k]!.map((v) => Math.fround(v)));
          else expect([...t.dataSync()]).toEqual(k === 'weight' ? before.w : before.b);
        }
      });
      // after a refusal nothing changed
      if (![...layer.weight.dataSync()].every((v, i) => v === before.w[i])) expect(Object.hasOwn(state, 'weight')).toBe(true);
    }), RUNS);
  });
});

describe('hostile inputs: nn layers', () => {
  it('Linear and GPT from any sizes', () => {
    const size = fc.oneof(fc.integer({ min: 1, max: 6 }), junk);
    fc.assert(fc.property(size, size, (d, o) => {
      judge('nn.Linear sizes', ['Linear', 'rand', 'zeros'], () => new nn.Linear(d as number, o as number, { seed: 1 }), (l) => {
        expect(l.weight.shape).toEqual([d, o]);
      });
    }), RUNS);
  });
});
