/**
 * autocast(dtype, fn): what each op runs in, what it saves (exact bytes of a transformer block),
 * gradients through the casts to the float32 leaves, the weight-cast cache, nesting and errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { autocast, autocastDtype, checkpoint, measureSaved, nn, ops, randn, tensor, type AutocastDtype, type Tensor } from '../../src/index.ts';
import { HALF_FORMATS } from '../../src/half-float.ts';
import { expectError } from '../helpers/errors.ts';

const block = (d: number, h: number, s: number, dtype?: 'float64') => nn.buildModule(() => new nn.Block(d, h, s, { seed: 5, dtype }));

/**
 * Saved bytes of one Full-FT block forward under autocast-bf16 (b, s, d, h; N = b·s; no dropout),
 * by hand from the op policies:
 *   ln1 (float32): input 4Nd, mean and rstd 2·4N
 *   q, k, v: each its own 16-bit copy of the LN output (a cast per op, as PyTorch): 3·2Nd
 *   Q·Kᵀ: Q and K, 16-bit: 2·2Nd;   ·1/√dh: the scale's 16-bit copy, 2 bytes
 *   softmax (float32): its output 4·bhs²;   P·V: P's 16-bit copy 2·bhs² and V 2Nd
 *   o: its input 2Nd;   ln2: 4Nd + 8N;   up: its input's copy 2Nd;   GELU (bf16 in): 8Nd;   down: its input 8Nd
 *   = 40·Nd + 16·N + 6·bhs² + 2 activation bytes,
 * plus the weights' 16-bit copies each linear keeps for its input gradient: 2·(3d² + d² + 4d² + 4d²) = 24d².
 */
function autocastBlockBytes(b: number, s: number, d: number, h: number) {
  const N = b * s;
  return { activations: 40 * N * d + 16 * N + 6 * b * h * s * s + 2, weightCopies: 24 * d * d };
}

describe('autocast: saved bytes', () => {
  it('one transformer block under autocast-bf16 saves the hand-derived bytes, 16-bit where the policy says', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom([8, 2], [12, 3], [4, 1]), (b, s, [d, h]) => {
      const m = block(d!, h!, 6);
      const x = randn([b, s, d!], { seed: 2, requiresGrad: true });
      const rep = autocast('bfloat16', () => measureSaved(() => m.forward(x)));
      const want = autocastBlockBytes(b, s, d!, h!);
      const copies = rep.entries.filter((e) => e.weightCopy).reduce((n, e) => n + e.bytes, 0);
      expect(copies).toBe(want.weightCopies + 2); // + the 1/√dh scale's copy, a buffer
      expect(rep.bytes).toBe(want.activations + want.weightCopies);
      expect(rep.result.dtype).toBe('float32'); // the residual stream: float32 + bfloat16 promotes
      for (const e of rep.entries.filter((e) => e.kind === 'activation')) {
        const float32 = e.op === 'layerNorm' || e.op === 'softmax';
        expect(e.dtype, `${e.module} ${e.op}`).toBe(float32 ? 'float32' : 'bfloat16');
      }
      m.dispose();
    }), { numRuns: 12 });
  });

  it('pure bfloat16 and float16 blocks save 2 bytes per element, LayerNorm statistics in float32: 32·Nd + 16·N + 2·bhs²', () => {
    for (const dtype of ['bfloat16', 'float16'] as const) {
      const [b, s, d, h] = [2, 5, 8, 2], N = b * s;
      const m = nn.buildModule(() => new nn.Block(d, h, s, { seed: 5, dtype }));
      const x = randn([b, s, d], { seed: 2, requiresGrad: true, dtype });
      const rep = measureSaved(() => m.forward(x));
      expect(rep.bytes).toBe(32 * N * d + 16 * N + 2 * b * h * s * s);
      expect(rep.result.dtype).toBe(dtype);
      m.dispose();
    }
  });

  it('ops.loraFA on 16-bit x, W, A, B saves N·r·2 bytes (bfloat16 and float16)', () => {
    for (const dtype of ['bfloat16', 'float16'] as const) {
      for (const [N, d, o, r] of [[7, 5, 6, 2], [16, 8, 8, 4], [1, 3, 2, 1]] as const) {
        const x16 = randn([N, d], { seed: 1, dtype, requiresGrad: true });
        const W = randn([d, o], { seed: 2, dtype, parameter: true }), A = randn([d, r], { seed: 3, dtype, parameter: true }), B = randn([r, o], { seed: 4, dtype, requiresGrad: true, parameter: true });
        const rep = measureSaved(() => ops.loraFA(x16, W, A, B, { scale: 2 }));
        expect(rep.bytes, `${dtype} N ${N} r ${r}`).toBe(N * r * 2);
        expect(rep.entries.filter((e) => e.kind === 'activation').map((e) => [e.shape, e.dtype])).toEqual([[[N, r], dtype]]);
      }
    }
  });
});

/** Gradients of sum(block(x)·c) for x and every parameter, with or without autocast. */
function gradients(dtype: AutocastDtype | null, float64 = false) {
  const [b, s, d, h] = [2, 6, 8, 2];
  const m = block(d, h, s, float64 ? 'float64' : undefined);
  const opts = float64 ? { dtype: 'float64' as const } : {};
  const x = randn([b, s, d], { seed: 2, requiresGrad: true, ...opts }), c = randn([b, s, d], { seed: 3, ...opts });
  const y = autocast(dtype, () => m.forward(x));
  ops.sum(ops.mul(y, c)).backward();
  const grads = [x, ...m.parameters()].map((t) => ({ dtype: t.grad!.dtype, values: Array.from(t.grad!.dataSync()) }));
  m.dispose();
  return { y: Array.from(y.dataSync()), grads };
}

const relativeError = (a: number[], b: number[]) => Math.hypot(...a.map((v, i) => v - b[i]!)) / Math.hypot(...b);

describe('autocast: gradients', () => {
  it('reach the float32 leaves through the casts, within a few bf16/fp16 roundings of float32', () => {
    const exact = gradients(null);
    for (const dtype of ['bfloat16', 'float16'] as const) {
      const u = HALF_FORMATS[dtype].epsilon / 2; // unit roundoff
      const mixed = gradients(dtype);
      // a handful of roundings in series (input, weight and output casts, forward and backward): 16u bounds the relative error
      expect(relativeError(mixed.y, exact.y)).toBeLessThan(16 * u);
      const scale = Math.hypot(...exact.grads[0]!.values); // x's gradient: the scale of a gradient that is 0 exactly (k's bias)
      mixed.grads.forEach((g, i) => {
        expect(g.dtype).toBe('float32');
        const want = exact.grads[i]!.values;
        const err = Math.hypot(...g.values.map((v, j) => v - want[j]!)) / Math.max(Math.hypot(...want), scale);
        expect(err, `${dtype} gradient ${i}`).toBeLessThan(16 * u);
      });
      expect(relativeError(mixed.grads[0]!.values, exact.grads[0]!.values)).toBeGreaterThan(0); // it did run in 16 bits
    }
  });

  it('leaves a float64 model untouched: bitwise the gradients without autocast', () => {
    expect(gradients('bfloat16', true)).toEqual(gradients(null, true));
  });

  it('a checkpointed block recomputes under the autocast of its first run (gradients equal the plain autocast run)', () => {
    const [b, s, d, h] = [1, 4, 8, 2];
    const run = (ck: boolean) => {
      const m = block(d, h, s);
      const x = randn([b, s, d], { seed: 2, requiresGrad: true });
      const y = autocast('bfloat16', () => (ck ? checkpoint((t: Tensor) => m.forward(t), x) : m.forward(x)));
      ops.sum(y).backward(); // backward outside the region, as with torch.autocast
      const g = [x, ...m.parameters()].map((t) => Array.from(t.grad!.dataSync()));
      m.dispose();
      return g;
    };
    expect(run(true)).toEqual(run(false));
  });
});

describe('autocast: the weight-cast cache', () => {
  it('a weight that requires grad is cast once per region and saved once; its gradient sums both uses', () => {
    const W = randn([4, 3], { seed: 1, requiresGrad: true, parameter: true });
    const x = randn([5, 4], { seed: 2, requiresGrad: true }), z = randn([5, 4], { seed: 3, requiresGrad: true });
    const rep = autocast('bfloat16', () => measureSaved(() => ops.add(ops.matmul(x, W), ops.matmul(z, W))));
    const copies = rep.entries.filter((e) => e.weightCopy);
    expect(copies.map((e) => e.bytes)).toEqual([4 * 3 * 2, 0]); // the second save is the same storage
    expect(rep.bytes).toBe(2 * 5 * 4 * 2 + 4 * 3 * 2); // x and z as bf16 copies, W's copy once
    ops.sum(rep.result).backward();
    expect(W.grad!.dtype).toBe('float32');
    // ∂/∂W Σ(xW + zW) = xᵀ·1 + zᵀ·1 from the bf16 copies: each product rounded to bf16, then their sum (u = 2⁻⁸ each)
    const xs = x.dataSync(), zs = z.dataSync(), g = W.grad!.dataSync();
    const bf = (v: number) => tensor([v], { dtype: 'bfloat16' }).dataSync()[0]!;
    for (let i = 0; i < 4; i++) {
      let want = 0, size = 0;
      for (let n = 0; n < 5; n++) {
        want += bf(xs[n * 4 + i]!) + bf(zs[n * 4 + i]!);
        size += Math.abs(bf(xs[n * 4 + i]!)) + Math.abs(bf(zs[n * 4 + i]!));
      }
      for (let j = 0; j < 3; j++) expect(Math.abs(g[i * 3 + j]! - want)).toBeLessThanOrEqual(3 * 2 ** -8 * size);
    }
  });

  it('a new region casts again; a frozen weight (no grad) is cast per op, as PyTorch does', () => {
    const W = randn([4, 3], { seed: 1, requiresGrad: true, parameter: true });
    const F = randn([4, 3], { seed: 4, parameter: true });
    const x = randn([5, 4], { seed: 2, requiresGrad: true });
    const first = autocast('bfloat16', () => measureSaved(() => ops.matmul(x, W)));
    const second = autocast('bfloat16', () => measureSaved(() => ops.matmul(x, W)));
    expect(first.entries.find((e) => e.weightCopy)!.bytes).toBe(24);
    expect(second.entries.find((e) => e.weightCopy)!.bytes).toBe(24);
    const frozen = autocast('bfloat16', () => measureSaved(() => ops.add(ops.matmul(x, F), ops.matmul(x, F))));
    expect(frozen.entries.filter((e) => e.shape.join() === '4,3').map((e) => e.bytes)).toEqual([24, 24]); // two copies of F
  });
});

describe('autocast: policies, nesting, errors', () => {
  it('matmul-like ops run in the 16-bit dtype, softmax/layer norm/cross entropy in float32, others promote', () => {
    const a = randn([3, 4], { seed: 1 }), b = randn([4, 2], { seed: 2 });
    autocast('float16', () => {
      expect(ops.matmul(a, b).dtype).toBe('float16');
      expect(ops.linear(a, b).dtype).toBe('float16');
      const h = ops.matmul(a, b);
      expect(ops.softmax(h).dtype).toBe('float32');
      expect(ops.logSoftmax(h).dtype).toBe('float32');
      expect(ops.layerNorm(h).dtype).toBe('float32');
      expect(ops.crossEntropy(h, tensor(Int32Array.from([0, 1, 1]), { shape: [3] })).dtype).toBe('float32');
      expect(ops.tanh(h).dtype).toBe('float16'); // one input: its own dtype
      expect(ops.add(h, randn([3, 2], { seed: 3 })).dtype).toBe('float32'); // widest
      expect(ops.mul(h, tensor(2)).dtype).toBe('float16'); // a rank-0 operand does not promote
      expect(ops.add(h, tensor([1, 2], { dtype: 'bfloat16' })).dtype).toBe('float32'); // float16 with bfloat16
      expect(ops.concat([h, randn([1, 2], { seed: 4 })]).dtype).toBe('float32');
      expect(ops.matmul(ops.cast(a, 'float64'), ops.cast(b, 'float64')).dtype).toBe('float64'); // float64 is never cast
    });
    expect(ops.matmul(a, b).dtype).toBe('float32'); // outside: as before
  });

  it('nesting and exceptions restore the previous state; null turns autocast off inside', () => {
    expect(autocastDtype()).toBeNull();
    autocast('bfloat16', () => {
      expect(autocast('float16', () => autocastDtype())).toBe('float16');
      expect(autocastDtype()).toBe('bfloat16');
      expect(autocast(null, () => autocastDtype())).toBeNull();
      expect(() => autocast('float16', () => {
        throw new Error('boom');
      })).toThrow('boom');
      expect(autocastDtype()).toBe('bfloat16');
    });
    expect(autocastDtype()).toBeNull();
  });

  it('rejects an unsupported dtype, a non-function and an async fn, naming the option', () => {
    expectError(() => autocast('float32' as AutocastDtype, () => 0), 'autocast', 'dtype is the string "float32"', "expected 'bfloat16' or 'float16'");
    expectError(() => autocast('int32' as AutocastDtype, () => 0), 'autocast', 'dtype is the string "int32"');
    expectError(() => autocast('bfloat16', 3 as unknown as () => number), 'autocast', 'fn is the number 3', 'expected a function');
    expectError(() => autocast('bfloat16', async () => 1), 'autocast', 'returned a Promise', 'synchronous');
    expect(autocastDtype()).toBeNull();
  });
});
