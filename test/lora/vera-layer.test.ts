/**
 * VeRA's layer and op at their edges, each check written for a mutant that survived the rest of
 * the suite (docs/verification.md, "Survivors"): which random numbers the shared projections
 * draw, names and persistence of what a layer registers, the bias and dropout paths of forward,
 * sgdDirection with one trained vector, and what the op frees.
 */
import { describe, expect, it } from 'vitest';
import { getBackend, manualSeed, ops, randn, type Tensor } from '../../src/index.ts';
import { VeraLinear, VeraProjections } from '../../src/lora/vera-layer.ts';
import { Linear } from '../../src/nn/linear.ts';
import { fillUniform } from '../../src/random.ts';
import { expectClose } from '../helpers/allclose.ts';
import { expectError } from '../helpers/errors.ts';

const f64 = { dtype: 'float64' as const };
const cpu = getBackend('cpu');
const linear = (d: number, o: number, s: number, bias = true) => new Linear(d, o, { dtype: 'float64', seed: s, bias });
const data = (t: Tensor) => Array.from(t.dataSync());

/** n uniform draws of Philox stream (seed, offset) mapped to U(−bound, bound): what PEFT's Kaiming-uniform draws. */
function uniformDraw(n: number, seed: number, offset: number, bound: number): number[] {
  const u = new Float64Array(n);
  fillUniform(u, seed, offset);
  return Array.from(u, (v) => (2 * v - 1) * bound);
}

describe('VeRA projections: the draw', () => {
  it('A [maxIn, r] is the seed\'s first maxIn·r uniforms scaled to ±√(6/maxIn), B the next, from the next Philox block, scaled to ±√(6/r)', () => {
    const [r, maxIn, maxOut, seed] = [3, 5, 7, 11];
    const proj = new VeraProjections(r, maxIn, maxOut, { seed, dtype: 'float64' });
    // A takes ⌈15/4⌉ = 4 blocks of four uniforms; B starts at block 4
    expect(data(proj.A)).toEqual(uniformDraw(maxIn * r, seed, 0, Math.sqrt(6 / maxIn)));
    expect(data(proj.B)).toEqual(uniformDraw(r * maxOut, seed, 4, Math.sqrt(6 / r)));
  });

  it('without a seed, draws from the global generator at its current offset and advances it', () => {
    manualSeed(9);
    const a = new VeraProjections(2, 4, 3, f64); // A: 8 uniforms = 2 blocks; B: 6 = 2 blocks
    expect(data(a.A)).toEqual(uniformDraw(8, 9, 0, Math.sqrt(6 / 4)));
    expect(data(a.B)).toEqual(uniformDraw(6, 9, 2, Math.sqrt(6 / 2)));
    const b = new VeraProjections(2, 4, 3, f64);
    expect(data(b.A)).toEqual(uniformDraw(8, 9, 4, Math.sqrt(6 / 4)));
  });

  it('names itself for a bad seed; A and B are parameters (no activation bytes when saved)', () => {
    expectError(() => new VeraProjections(2, 4, 3, { seed: -1 }), 'VeraProjections', 'seed must be an integer in [0, 2^32), got -1');
    const proj = new VeraProjections(2, 4, 3, { seed: 1 });
    expect([proj.A.isParameter, proj.B.isParameter]).toEqual([true, true]);
  });
});

describe('VeraLinear', () => {
  it('refuses options that are not an object, and projections of another dtype, naming both', () => {
    const proj = new VeraProjections(2, 4, 3, { seed: 1, dtype: 'float64' });
    for (const bad of [3, 'x']) {
      expectError(() => new VeraLinear(linear(4, 3, 1), proj, bad as never), 'VeraLinear', 'expected options { dInitial?, dropout? }');
    }
    expectError(() => new VeraLinear(new Linear(4, 3, { seed: 1 }), proj), 'VeraLinear', 'the shared A [4, 2] (float64, cpu) does not match W [4, 3] (float32, cpu); expected one dtype and device');
    expect(new VeraLinear(linear(4, 3, 1), proj, undefined).lambdaD.shape).toEqual([2]); // no options: the defaults
  });

  it('registers base, d and b as trained parameters by PEFT\'s names, and A and B as buffers left out of the state', () => {
    const layer = new VeraLinear(linear(4, 3, 1), new VeraProjections(2, 4, 3, { seed: 1, dtype: 'float64' }));
    expect(layer.namedParameters().map(([n]) => n)).toEqual(['vera_lambda_d', 'vera_lambda_b', 'base.weight', 'base.bias']);
    expect(layer.namedBuffers().map(([n]) => n).sort()).toEqual(['vera_A', 'vera_B']);
    expect(Object.keys(layer.stateDict()).sort()).toEqual(['base.bias', 'base.weight', 'vera_lambda_b', 'vera_lambda_d']);
    expect(layer.trainableParameters()).toEqual([layer.lambdaD, layer.lambdaB]);
  });

  it('names itself when x does not fit', () => {
    const layer = new VeraLinear(linear(4, 3, 1), new VeraProjections(2, 4, 3, { seed: 1, dtype: 'float64' }));
    expectError(() => layer.forward(randn([2, 5], f64)), 'VeraLinear', 'expected the last axis to have 4 features');
  });

  it('forward is x·W (+ bias) + the adapter, with and without a bias; dropout acts in training only', () => {
    const proj = new VeraProjections(2, 4, 3, { seed: 1, dtype: 'float64' });
    const x = randn([5, 4], { ...f64, seed: 2 });
    for (const bias of [true, false]) {
      const base = linear(4, 3, 3, bias);
      const layer = new VeraLinear(base, proj, { dropout: 0.5 });
      layer.lambdaB.assign(randn([3], { ...f64, seed: 4 })); // a non-zero adapter
      layer.eval();
      const adapter = ops.mul(ops.matmul(ops.mul(ops.matmul(x, layer.A), layer.lambdaD), layer.B), layer.lambdaB);
      const expected = ops.add(ops.add(ops.matmul(x, base.weight), adapter), bias ? base.bias! : 0);
      expectClose(data(layer.forward(x)), data(expected), { atol: 1e-14, rtol: 1e-12 });
      layer.train();
      expect(data(layer.forward(x))).not.toEqual(data(expected)); // half of x's entries dropped before A
    }
  });

  it('sgdDirection() with only d or only b trained is that one term; with both, their sum', () => {
    const proj = new VeraProjections(2, 4, 3, { seed: 1, dtype: 'float64' });
    const x = randn([5, 4], { ...f64, seed: 2 });
    const run = (trainD: boolean, trainB: boolean) => {
      const layer = new VeraLinear(linear(4, 3, 3), proj);
      layer.lambdaB.assign(randn([3], { ...f64, seed: 4 }));
      layer.lambdaD.requiresGrad = trainD;
      layer.lambdaB.requiresGrad = trainB;
      layer.forward(x).sum().backward();
      const { A, B, lambdaD: dv, lambdaB: bv } = layer;
      const termD = trainD ? ops.mul(ops.matmul(ops.mul(A, dv.grad!), B), bv) : null;
      const termB = trainB ? ops.mul(ops.matmul(ops.mul(A, dv), B), bv.grad!) : null;
      return { got: layer.sgdDirection(), termD, termB };
    };
    const onlyD = run(true, false);
    expectClose(data(onlyD.got), data(onlyD.termD!), { atol: 1e-14, rtol: 1e-12 });
    const onlyB = run(false, true);
    expectClose(data(onlyB.got), data(onlyB.termB!), { atol: 1e-14, rtol: 1e-12 });
    const both = run(true, true);
    expectClose(data(both.got), data(ops.add(both.termD!, both.termB!)), { atol: 1e-14, rtol: 1e-12 });
  });
});

describe('ops.vera', () => {
  const make = (needs: string) => ({
    x: randn([3, 4], { ...f64, seed: 1, requiresGrad: needs.includes('x') }),
    W: randn([4, 3], { ...f64, seed: 2, parameter: true }),
    A: randn([4, 2], { ...f64, seed: 3, parameter: true }),
    B: randn([2, 3], { ...f64, seed: 4, parameter: true }),
    d: randn([2], { ...f64, seed: 5, parameter: true, requiresGrad: needs.includes('d') }),
    b: randn([3], { ...f64, seed: 6, parameter: true, requiresGrad: needs.includes('b') }),
  });

  it('frees every intermediate of forward and backward, whichever inputs need a gradient', () => {
    for (const needs of ['xdb', 'd', 'b', 'x', 'db']) {
      const t = make(needs);
      const before = cpu.memory().liveBytes;
      const y = ops.vera(t.x, t.W, t.A, t.B, t.d, t.b);
      const loss = y.sum();
      loss.backward();
      for (const v of [y, loss]) v.dispose();
      const grads = [t.x, t.d, t.b].filter((v) => v.grad).map((v) => v.grad!.size * 8);
      expect(cpu.memory().liveBytes, needs).toBe(before + grads.reduce((a, v) => a + v, 0));
    }
  });

  it('names itself for a bad dropout seed', () => {
    const t = make('');
    expectError(() => ops.vera(t.x, t.W, t.A, t.B, t.d, t.b, { dropout: 0.5, seed: -1 }), 'vera', 'seed must be an integer');
  });
});
