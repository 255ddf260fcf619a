/**
 * lorafa's ops against PyTorch: test/fixtures/torch/lora-ops.json holds float64 outputs and
 * gradients of Full-FT, LoRA, LoRA-FA and LoRA-FB recorded by PyTorch's autograd
 * (scripts/torch-fixtures.py; see its docstring), on shapes with σ of both signs and an explicit
 * dropout mask — the one lorafa draws for the same seed, which is checked first. Every output and
 * gradient agrees to 1e-12 relative (max |lorafa − torch| ≤ 1e-12 · max |torch|).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ops, tensor, type Tensor } from '../../src/index.ts';

interface Case {
  name: string;
  N: number;
  d: number;
  o: number;
  r: number;
  sigma: number;
  dropout: number;
  seed: number;
  inputs: Record<'X' | 'W' | 'A' | 'B' | 'dY' | 'mask', number[]>;
  methods: Record<'full' | 'lora' | 'loraFA' | 'loraFB', Record<string, number[]>>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/torch/lora-ops.json', import.meta.url), 'utf8')) as { source: string; cases: Case[] };

/** max |a − b| / max |b|. */
function relError(a: ArrayLike<number>, b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

describe(`lorafa vs PyTorch (${fixture.source})`, () => {
  it('has cases with σ of both signs, with and without dropout', () => {
    expect(fixture.cases.some((c) => c.sigma < 0) && fixture.cases.some((c) => c.sigma > 0)).toBe(true);
    expect(fixture.cases.some((c) => c.dropout > 0) && fixture.cases.some((c) => c.dropout === 0)).toBe(true);
  });

  for (const c of fixture.cases) {
    it(`${c.name}: N ${c.N}, d ${c.d}, o ${c.o}, r ${c.r}, σ ${c.sigma}, dropout ${c.dropout}`, () => {
      const m = (name: keyof Case['inputs'], shape: number[], opts: { parameter?: boolean; requiresGrad?: boolean } = {}) =>
        tensor(c.inputs[name], { shape, dtype: 'float64', ...opts });
      // the recorded mask is the one lorafa's dropout draws for (seed, offset 0)
      const ones = tensor(new Float64Array(c.N * c.d).fill(1), { shape: [c.N, c.d], dtype: 'float64' });
      const kept = c.dropout > 0 ? Array.from(ops.dropout(ones, c.dropout, { seed: c.seed }).dataSync(), (v) => (v === 0 ? 0 : 1)) : c.inputs.mask;
      expect(kept).toEqual(c.inputs.mask);

      const dY = m('dY', [c.N, c.o]);
      const run = (method: keyof Case['methods']): Record<string, Tensor> => {
        const x = m('X', [c.N, c.d], { requiresGrad: true });
        const W = m('W', [c.d, c.o], { parameter: true, requiresGrad: method === 'full' });
        const A = m('A', [c.d, c.r], { parameter: true, requiresGrad: method === 'lora' || method === 'loraFB' });
        const B = m('B', [c.r, c.o], { parameter: true, requiresGrad: method === 'lora' || method === 'loraFA' });
        const options = { scale: c.sigma, dropout: c.dropout, seed: c.seed };
        const y = method === 'full' ? ops.linear(x, W) : ops[method](x, W, A, B, options);
        y.backward(dY);
        return { y, gradX: x.grad!, gradW: W.grad!, gradA: A.grad!, gradB: B.grad! };
      };
      for (const method of ['full', 'lora', 'loraFA', 'loraFB'] as const) {
        const got = run(method);
        for (const [key, want] of Object.entries(c.methods[method])) {
          expect(relError(got[key]!.dataSync(), want), `${method} ${key}`).toBeLessThanOrEqual(1e-12);
        }
      }
    });
  }
});
