import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkpoint, manualSeed, measureSaved, noGrad, nn, ops, randn, recomputeAttentionScores, savedStats, selectiveCheckpoint, Tensor,
  type CheckpointPolicy, type SaveInfo,
} from '../../src/index.ts';
import { CpuBackend } from '../../src/backends/cpu/cpu-backend.ts';
import { getRandomState } from '../../src/random.ts';
import { expectError } from '../helpers/errors.ts';

const F32 = 4;

/** A block and an input activation x [b, s, d] that needs a gradient; same seeds give the same block. */
function setup(b: number, s: number, d: number, h: number, p: number, mode: nn.BlockCheckpoint) {
  const block = nn.buildModule(() => new nn.Block(d, h, s, { seed: 5, dropout: p, checkpoint: mode }));
  const x = randn([b, s, d], { seed: 9, requiresGrad: true });
  return { block, x };
}

/** Gradients of sum(block(x)·c) for every parameter and x, as plain arrays; the generator seeded first. */
function gradients(b: number, s: number, d: number, h: number, p: number, mode: nn.BlockCheckpoint) {
  const { block, x } = setup(b, s, d, h, p, mode);
  manualSeed(77);
  const y = block.forward(x);
  const c = randn(y.shape, { seed: 3 });
  ops.sum(ops.mul(y, c)).backward();
  const out = { y: Array.from(y.dataSync()), x: Array.from(x.grad!.dataSync()), params: block.parameters().map((w) => Array.from(w.grad!.dataSync())), generator: getRandomState() };
  block.dispose();
  return out;
}

describe('checkpoint: gradients', () => {
  it('full and selective checkpointing of a block give bitwise the gradients (and dropout masks) of the plain block', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom(0, 0.25), (b, s, p) => {
      const plain = gradients(b, s, 8, 2, p, 'none');
      for (const mode of ['full', 'selective'] as const) {
        const ck = gradients(b, s, 8, 2, p, mode);
        expect(ck.y).toEqual(plain.y);
        expect(ck.x).toEqual(plain.x);
        expect(ck.params).toEqual(plain.params);
        expect(ck.generator).toEqual(plain.generator); // the recomputation restores the generator it borrowed
      }
    }), { numRuns: 6 });
  });

  it('nested checkpoints recompute through each other with the same gradients; saved bytes return to 0', () => {
    const x0 = randn([3, 4], { seed: 1, requiresGrad: true });
    const W = randn([4, 4], { seed: 2, requiresGrad: true, parameter: true });
    const f = (t: Tensor) => ops.tanh(ops.matmul(t, W));
    const plain = ops.sum(f(f(x0))).sum();
    plain.backward();
    const [gx, gw] = [Array.from(x0.grad!.dataSync()), Array.from(W.grad!.dataSync())];
    x0.grad = null;
    W.grad = null;
    const before = savedStats().liveBytes;
    const r = measureSaved(() => checkpoint((t: Tensor) => checkpoint(f, f(t)), x0));
    expect(r.bytes).toBe(3 * 4 * F32); // x0 only: the inner checkpoint's input is a save the outer one drops
    ops.sum(r.result).backward();
    expect(Array.from(x0.grad!.dataSync())).toEqual(gx);
    expect(Array.from(W.grad!.dataSync())).toEqual(gw);
    expect(savedStats().liveBytes).toBe(before);
  });

  it('retainGraph: a second backward reuses the recomputed tensors and doubles the gradient', () => {
    const x = randn([2, 3], { seed: 4, requiresGrad: true });
    const y = ops.sum(checkpoint((t: Tensor) => ops.tanh(ops.mul(t, t)), x));
    y.backward(undefined, { retainGraph: true });
    const once = Array.from(x.grad!.dataSync());
    y.backward();
    expect(Array.from(x.grad!.dataSync())).toEqual(once.map((g) => g + g));
  });

  it('non-tensor arguments reach fn again when it is recomputed', () => {
    const x = randn([2, 3], { seed: 4, requiresGrad: true });
    const seen: unknown[] = [];
    const y = ops.sum(checkpoint((t: Tensor, k: number) => {
      seen.push(k);
      return ops.tanh(ops.mul(t, k));
    }, x, 3));
    y.backward();
    expect(seen).toEqual([3, 3]);
    const x2 = randn([2, 3], { seed: 4, requiresGrad: true });
    ops.sum(ops.tanh(ops.mul(x2, 3))).backward();
    expect(Array.from(x.grad!.dataSync())).toEqual(Array.from(x2.grad!.dataSync()));
  });

  it('under noGrad it only runs fn: nothing saved, no graph', () => {
    const x = randn([2, 3], { seed: 4, requiresGrad: true });
    const r = measureSaved(() => noGrad(() => checkpoint((t: Tensor) => ops.tanh(t), x)));
    expect(r.bytes).toBe(0);
    expect(r.result.requiresGrad).toBe(false);
    expect(Array.from(r.result.dataSync())).toEqual(Array.from(ops.tanh(x).dataSync()));
  });
});

describe('checkpoint: saved bytes (exact)', () => {
  /**
   * One block in float32, N = b·s rows, all its weights trainable, input x a leaf needing a gradient:
   *   x, LN1 output (q, k, v input), Q, K, V, the heads' concatenation (o's input), h, LN2 output,
   *   GELU input and output:  16·N·d;  LayerNorm mean and rstd: 2 × 2·N;  softmax output P: b·h·s²;
   *   with dropout p > 0 also the dropped P (P·V's left operand): b·h·s² more.
   */
  const blockBytes = (b: number, s: number, d: number, h: number, p: number) => (16 * b * s * d + 4 * b * s + (p > 0 ? 2 : 1) * b * h * s * s) * F32;

  it('plain block = 16·N·d + 4·N + (1 or 2)·b·h·s² floats; full = its input; selective = plain − the b·h·s² tensors', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom(4, 8), fc.constantFrom(1, 2), fc.constantFrom(0, 0.1), (b, s, d, h, p) => {
      const measure = (mode: nn.BlockCheckpoint) => {
        const { block, x } = setup(b, s, d, h, p, mode);
        const r = measureSaved(() => block.forward(x));
        ops.sum(r.result).backward();
        block.dispose();
        return r;
      };
      const plain = measure('none'), full = measure('full'), selective = measure('selective');
      expect(plain.bytes).toBe(blockBytes(b, s, d, h, p));
      expect(full.bytes).toBe(b * s * d * F32);
      expect(full.peakBytes).toBe(b * s * d * F32);
      expect(selective.bytes).toBe((16 * b * s * d + 4 * b * s) * F32);
      // what each dropped is listed with 0 bytes, kind 'recomputed'
      expect(selective.entries.filter((e) => e.kind === 'recomputed').map((e) => e.shape)).toEqual(Array(2).fill([b, h, s, s])); // softmax's P and P·V's left operand (P, or its dropped copy)
    }), { numRuns: 12 });
  });

  it('the policy sees each save (op, module, shape, producer, index) and measureSaved counts exactly what it keeps', () => {
    const block = nn.buildModule(() => new nn.Block(4, 1, 3, { seed: 5 }));
    const x = randn([1, 3, 4], { seed: 9, requiresGrad: true });
    const seen: SaveInfo[] = [];
    const keepGelu: CheckpointPolicy = (save) => {
      seen.push(save);
      return save.op === 'gelu' ? 'keep' : 'recompute';
    };
    const r = measureSaved(() => selectiveCheckpoint(keepGelu, (t: Tensor) => block.forward(t), x));
    expect(r.bytes).toBe((3 * 4 + 3 * 16) * F32); // x (the input) and GELU's input [1, 3, 16]
    expect(seen.every((s, i) => i === 0 || s.index > seen[i - 1]!.index)).toBe(true); // positions among all saves (parameters are not asked)
    expect(seen.find((s) => s.op === 'softmax')).toMatchObject({ module: 'attn', shape: [1, 1, 3, 3], producer: 'softmax' });
    expect(seen.find((s) => s.op === 'gelu')).toMatchObject({ module: 'mlp', shape: [1, 3, 16] });
    ops.sum(r.result).backward();
    block.dispose();
  });

  it('recomputeAttentionScores keeps Q, K, V and drops softmax / dropout outputs', () => {
    const info = (producer: string | null): SaveInfo => ({ op: 'matmul', module: 'attn', shape: [1], producer, index: 0 });
    expect(['softmax', 'dropout', 'maskedFill', 'permute', 'linear', null].map((p) => recomputeAttentionScores(info(p)))).toEqual(['recompute', 'recompute', 'recompute', 'keep', 'keep', 'keep']);
  });
});

describe('checkpoint: bad input', () => {
  const x = randn([2, 2], { seed: 1, requiresGrad: true });

  it('fn that is not a function, or returns no tensor', () => {
    expectError(() => checkpoint(42 as unknown as () => Tensor), 'checkpoint', 'fn is the number 42', 'expected a function returning a Tensor');
    expectError(() => checkpoint((() => [ops.tanh(x)]) as unknown as () => Tensor), 'checkpoint', 'fn returned', 'expected a Tensor');
    expectError(() => noGrad(() => checkpoint((() => 1) as unknown as () => Tensor)), 'checkpoint', 'fn returned the number 1', 'expected a Tensor');
  });

  it('a policy that is not a function or answers neither keep nor recompute', () => {
    expectError(() => selectiveCheckpoint('selective' as unknown as CheckpointPolicy, (t: Tensor) => t, x), 'selectiveCheckpoint', 'policy is the string "selective"', 'expected a function');
    const bad = (() => 'maybe') as unknown as CheckpointPolicy;
    expectError(() => selectiveCheckpoint(bad, (t: Tensor) => ops.tanh(t), x), 'selectiveCheckpoint', 'returned the string "maybe"', "tanh's save of [2, 2]", "expected 'keep' or 'recompute'");
  });

  it('inputs on different devices; a disposed input', () => {
    const other = new CpuBackend();
    Object.defineProperty(other, 'device', { value: 'webgpu' });
    const elsewhere = new Tensor(other.upload(new Float32Array(4)), [2, 2]);
    expectError(() => checkpoint((a: Tensor, b: Tensor) => ops.add(a, b), x, elsewhere), 'checkpoint', 'inputs are on different devices', 'input 1 [2, 2] (float32, webgpu)', 'expected one device');
    const gone = randn([2]);
    gone.dispose();
    expectError(() => checkpoint((t: Tensor) => t, gone), 'checkpoint', 'disposed');
  });

  it('an input changed in place before backward, and fn that computes something else when recomputed', () => {
    const a = ops.add(randn([2, 2], { seed: 2, requiresGrad: true }), 0);
    const y = checkpoint((t: Tensor) => ops.tanh(t), a);
    noGrad(() => a.assign(randn([2, 2], { seed: 8 })));
    expectError(() => ops.sum(y).backward(), 'checkpoint', 'modified in place after it was saved');
    let calls = 0;
    const shifty = checkpoint((t: Tensor) => (calls++ === 0 ? ops.tanh(t) : ops.tanh(ops.reshape(t, [4]))), x);
    expectError(() => ops.sum(shifty).backward(), 'checkpoint', 'recomputing fn in backward', 'tanh [4]', 'first run saved tanh [2, 2]');
  });

  it("a block's checkpoint mode must be one of none, full, selective", () => {
    expectError(() => new nn.Block(4, 1, 3, { checkpoint: 'blocks' as nn.BlockCheckpoint }), 'Block', 'checkpoint is the string "blocks"', 'none, full, selective');
    const gpt = nn.buildModule(() => new nn.GPT({ vocab: 5, dim: 4, heads: 1, layers: 1, context: 3 }));
    expectError(() => gpt.setCheckpointing('all' as nn.BlockCheckpoint), 'GPT', 'checkpoint is the string "all"');
    gpt.dispose();
  });
});
