/**
 * float16 and bfloat16 tensors beyond single ops (those are in test/conformance/half.test.ts):
 * saved bytes at 2 per element, LoRA-FA solving at rank 4 against float64, optimizer steps on
 * 16-bit parameters (states in the parameter's dtype, the first step bit-exact against float32
 * rounded once), and the error paths.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getBackend, measureSaved, ops, optim, randn, tensor, type Tensor } from '../../src/index.ts';
import { encodeHalfArray, type HalfDType } from '../../src/half-float.ts';
import { expectClose } from '../helpers/allclose.ts';
import { expectError } from '../helpers/errors.ts';
import { halfTolerance } from '../conformance/half.ts';

const HALF: HalfDType[] = ['float16', 'bfloat16'];
const dims = fc.constantFrom(1, 3, 17);

describe.each(HALF)('%s', (dtype) => {
  const rand = (shape: number[], seed: number, opts: { requiresGrad?: boolean; parameter?: boolean } = {}) => randn(shape, { seed, dtype, ...opts });

  it('measureSaved counts 2 bytes an element: loraFA saves XA (N·r·2), lora X and XA, linear X', () => {
    fc.assert(fc.property(dims, fc.constantFrom(4, 8), fc.constantFrom(3, 8), fc.constantFrom(1, 2), (N, d, o, r) => {
      const x0 = rand([N, d], 1, { requiresGrad: true }), x = ops.add(x0, 0); // an activation, as an earlier layer's output
      const W = rand([d, o], 2, { parameter: true });
      const A = rand([d, r], 3, { parameter: true }), B = rand([r, o], 4, { parameter: true, requiresGrad: true });
      const fa = measureSaved(() => ops.loraFA(x, W, A, B, { scale: 2, ridge: 1 }));
      expect(fa.bytes).toBe(N * r * 2);
      expect(fa.entries.filter((e) => e.bytes > 0).map((e) => [e.shape, e.dtype])).toEqual([[[N, r], dtype]]);
      A.requiresGrad = true;
      const lora = measureSaved(() => ops.lora(x, W, A, B, { scale: 2 }));
      expect(lora.bytes).toBe((N * d + N * r) * 2);
      const Wt = rand([d, o], 5, { parameter: true, requiresGrad: true });
      const x2 = ops.add(x0, 0); // a fresh activation (x is already held by lora's graph)
      const lin = measureSaved(() => ops.linear(x2, Wt));
      expect(lin.bytes).toBe(N * d * 2);
      for (const t of [x0, x, x2, W, A, B, Wt, fa.result, lora.result, lin.result]) t.dispose();
    }), { numRuns: 10 });
  });

  it('loraFA at rank 4 with a well-conditioned A: output and B\'s gradient within the derived tolerance of float64', async () => {
    const [N, d, o, r] = [9, 32, 7, 4];
    // A: the columns of 0.5·I repeated every 4 rows (AᵀA = 2·I, condition 1), plus small exact 16-bit noise
    const Avals = Array.from({ length: d * r }, (_, k) => (Math.floor(k / r) % r === k % r ? 0.5 : 0) + ((k * 37) % 11 - 5) / 256);
    const values = [randn([N, d], { seed: 1 }), randn([d, o], { seed: 2 }), tensor(Avals, { shape: [d, r] }), randn([r, o], { seed: 4 })]
      .map((t) => Array.from(encodeHalfArray(dtype, t.dataSync()), (b) => b)); // bits
    const run = (dt: 'float64' | HalfDType) => {
      const [x, W, A, B] = values.map((bits, i) => {
        const h = tensor(Uint16Array.from(bits), { dtype, shape: [[N, d], [d, o], [d, r], [r, o]][i]! });
        return dt === dtype ? h : ops.cast(h, dt);
      }) as [Tensor, Tensor, Tensor, Tensor];
      B.requiresGrad = true;
      const y = ops.loraFA(x, W, A, B, { scale: 2 });
      y.backward(ops.cast(tensor(Array.from({ length: N * o }, (_, k) => ((k * 13) % 17 - 8) / 8), { shape: [N, o] }), dt));
      return { y: y.dataSync(), g: B.grad!.dataSync(), gradDtype: B.grad!.dtype };
    };
    const ref = run('float64'), got = run(dtype);
    expect(got.gradDtype).toBe(dtype);
    expectClose(got.y, ref.y, halfTolerance(dtype, { rounds: 3, normwise: true }, ref.y));
    expectClose(got.g, ref.g, halfTolerance(dtype, { rounds: 4, normwise: true }, ref.g, 1));
  });

  it('AdamW and SGD on 16-bit parameters: the first step is the float32 step rounded once (bit-exact); AdamW\'s m and v take 2 bytes an element', () => {
    fc.assert(fc.property(fc.constantFrom(1, 5, 33), fc.integer({ min: 1, max: 1000 }), (n, seed) => {
      const p0 = Array.from(encodeHalfArray(dtype, randn([n], { seed }).dataSync()));
      const g0 = Array.from(encodeHalfArray(dtype, randn([n], { seed: seed + 1 }).dataSync()));
      for (const make of [(ps: Tensor[]) => new optim.AdamW(ps, { lr: 0.01, weightDecay: 0.1 }), (ps: Tensor[]) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9 })]) {
        const half = tensor(Uint16Array.from(p0), { dtype, requiresGrad: true }), single = ops.cast(half, 'float32');
        single.requiresGrad = true;
        half.grad = tensor(Uint16Array.from(g0), { dtype });
        single.grad = ops.cast(half.grad, 'float32');
        const o16 = make([half]), o32 = make([single]);
        o16.step();
        o32.step();
        expect(half.dtype).toBe(dtype);
        expect(Array.from(half.rawDataSync())).toEqual(Array.from(encodeHalfArray(dtype, single.dataSync() as Float32Array)));
        if (o16 instanceof optim.AdamW) expect([o16.stateBytes(), (o32 as optim.AdamW).stateBytes()]).toEqual([2 * n * 2, 2 * n * 4]); // m and v
        o16.dispose();
        o32.dispose();
      }
    }), { numRuns: 8 });
  });

  it('requiresGrad works on 16-bit tensors, and their gradients are 16-bit', () => {
    const x = rand([3, 4], 1, { requiresGrad: true });
    ops.sum(ops.mul(x, x)).backward();
    expect(x.grad!.dtype).toBe(dtype);
    expectClose(x.grad!.dataSync(), Array.from(x.dataSync(), (v) => 2 * v), { atol: 0, rtol: 0 }); // 2x is exact
  });
});

describe('16-bit error paths', () => {
  it('binary ops and matmul name both dtypes when they are mixed', () => {
    const a = randn([2, 3], { dtype: 'bfloat16' });
    expectError(() => ops.add(a, randn([2, 3])), 'add', 'bfloat16', 'float32');
    expectError(() => ops.matmul(a, randn([3, 2], { dtype: 'float16' })), 'matmul', 'bfloat16', 'float16');
    expectError(() => ops.linear(a, randn([3, 2])), 'linear', 'bfloat16', 'float32');
  });

  it('a Uint16Array needs dtype float16 or bfloat16', () => {
    expectError(() => tensor(new Uint16Array(3)), 'tensor', 'Uint16Array', /got none/);
    expectError(() => tensor(new Uint16Array(3), { dtype: 'float32' }), 'tensor', 'Uint16Array', /got float32/);
    expectError(() => getBackend('cpu').upload(new Uint16Array(2)), 'upload', 'Uint16Array');
  });

  it('a kernel given float16 and bfloat16 operands names both', () => {
    const k = getBackend('cpu').kernels;
    const a = randn([2], { dtype: 'float16' }), b = randn([2], { dtype: 'bfloat16' });
    expectError(() => k.binary('add', a.storage, [2], b.storage, [2], [2]), 'binary', 'float16', 'bfloat16');
  });
});
