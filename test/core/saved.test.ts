import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { measureSaved, ops, randn, resetSavedPeak, savedStats, withModule, type Tensor } from '../../src/index.ts';
import { dim } from '../helpers/arbitraries.ts';

/** An activation (a non-leaf that requires grad, own storage, nothing saved), as an earlier layer's output. */
function activation(shape: number[], dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const x0 = randn(shape, { seed: 1, dtype, requiresGrad: true });
  return ops.add(x0, 0);
}

const weight = (d: number, o: number, trainable: boolean, dtype: 'float32' | 'float64' = 'float32') =>
  randn([d, o], { seed: 2, dtype, parameter: true, requiresGrad: trainable });

describe('saved-tensor accounting (exact bytes)', () => {
  it('tanh(x·W) with W frozen saves tanh\'s output only (N·o·4 bytes), no N×d tensor', () => {
    fc.assert(fc.property(dim(9), dim(9), dim(9), (N, d, o) => {
      const x = activation([N, d]), W = weight(d, o, false);
      const r = measureSaved(() => ops.tanh(ops.matmul(x, W)));
      expect(r.bytes).toBe(N * o * 4);
      expect(r.peakBytes).toBe(N * o * 4);
      expect(r.entries).toEqual([
        { op: 'matmul', module: '', shape: [d, o], dtype: 'float32', bytes: 0, kind: 'parameter' },
        { op: 'tanh', module: '', shape: [N, o], dtype: 'float32', bytes: N * o * 4, kind: 'activation' },
      ]);
      r.result.sum().backward();
    }));
  });

  it('with W trainable it also saves x (N·d·4 bytes); float64 counts 8 bytes an element', () => {
    fc.assert(fc.property(dim(9), dim(9), dim(9), fc.constantFrom('float32' as const, 'float64' as const), (N, d, o, dtype) => {
      const x = activation([N, d], dtype), W = weight(d, o, true, dtype);
      const b = dtype === 'float32' ? 4 : 8;
      const r = measureSaved(() => ops.tanh(ops.matmul(x, W)));
      expect(r.bytes).toBe((N * o + N * d) * b);
      expect(r.entries.map((e) => [e.op, e.shape, e.kind, e.bytes])).toEqual([
        ['matmul', [N, d], 'activation', N * d * b],
        ['matmul', [d, o], 'parameter', 0],
        ['tanh', [N, o], 'activation', N * o * b],
      ]);
      r.result.sum().backward();
    }));
  });

  it('two ops saving the same tensor count it once; a reshape view of it too', () => {
    const x = activation([6, 4]), W1 = weight(4, 3, true), W2 = weight(2, 5, true);
    const r = measureSaved(() => {
      const a = ops.matmul(x, W1); // saves x
      const b = ops.matmul(x, W1); // saves x again: 0 bytes
      const c = ops.matmul(x.reshape([12, 2]), W2); // a view of x's storage: 0 bytes
      return ops.add(ops.add(a.sum(), b.sum()), c.sum());
    });
    expect(r.bytes).toBe(6 * 4 * 4);
    expect(r.entries.filter((e) => e.kind === 'activation').map((e) => e.bytes)).toEqual([96, 0, 0]);
    r.result.backward();
    expect(savedStats().liveBytes).toBe(0);
  });

  it('ops save what their backward uses: tanh, exp, sqrt, sigmoid, relu their output; log, gelu their input', () => {
    for (const [op, saves] of [[ops.tanh, 'y'], [ops.exp, 'y'], [ops.sqrt, 'y'], [ops.sigmoid, 'y'], [ops.relu, 'y'], [ops.log, 'x'], [(t: Tensor) => ops.gelu(t), 'x'], [ops.silu, 'x']] as const) {
      const x = ops.abs(activation([3, 5]));
      const r = measureSaved(() => {
        const y = op(x);
        const w = randn([3, 5], { seed: 3, requiresGrad: true, parameter: true });
        // mul(t, w) saves t for dw; it costs 0 bytes exactly when the unary op already saved t
        const before = measureSaved(() => ops.mul(saves === 'y' ? y : x, w));
        return { y, extra: before.bytes };
      });
      expect(r.result.extra).toBe(0);
      expect(r.bytes).toBe(3 * 5 * 4);
    }
  });

  it('parameters cost 0; an input that merely requires grad is an activation', () => {
    const W = weight(4, 4, true), leaf = randn([4, 4], { seed: 5, requiresGrad: true });
    const r = measureSaved(() => ops.mul(W, leaf));
    expect(r.bytes).toBe(4 * 4 * 4);
    expect(r.entries.map((e) => [e.kind, e.bytes])).toEqual([['parameter', 0], ['activation', 64]]);
  });

  it('a view of a weight (reshape, detach) costs 0 like the weight', () => {
    const W = weight(3, 4, true), x = activation([2, 3]);
    const r = measureSaved(() => [ops.mul(W.reshape([12]), x.reshape([6]).sum()), ops.matmul(x, W.detach())]);
    expect(r.entries.map((e) => [e.shape, e.kind, e.bytes])).toEqual([[[12], 'parameter', 0], [[], 'activation', 4], [[3, 4], 'parameter', 0]]);
  });

  it('dropout saves nothing; layerNorm saves x and per-row mean and rstd', () => {
    const x = activation([5, 8]);
    expect(measureSaved(() => ops.dropout(x, 0.5, { seed: 1 })).entries).toEqual([]);
    const g = weight(1, 8, true).reshape([8]);
    const r = measureSaved(() => ops.layerNorm(x, g, null));
    expect(r.entries.map((e) => [e.shape, e.bytes])).toEqual([[[5, 8], 160], [[8], 0], [[5], 20], [[5], 20]]);
  });

  it('layerNorm saves x, mean and rstd only when x or γ needs a gradient, γ only for dx', () => {
    const [rows, C] = [5, 8];
    const x = activation([rows, C]), xFrozen = randn([rows, C], { seed: 4 });
    const vec = (requiresGrad: boolean) => randn([C], { seed: 6, requiresGrad });
    const saves = (xs: Tensor, g: Tensor, b: Tensor) => {
      const r = measureSaved(() => ops.layerNorm(xs, g, b));
      return { bytes: r.bytes, entries: r.entries.map((e) => [e.shape, e.kind, e.bytes]) };
    };
    const xMeanRstd = [[[rows, C], 'activation', rows * C * 4], [[rows], 'activation', rows * 4], [[rows], 'activation', rows * 4]];
    // only β: dβ = Σ g needs nothing saved
    expect(saves(xFrozen, vec(false), vec(true))).toEqual({ bytes: 0, entries: [] });
    // only γ: dγ = Σ g·x̂ needs x, mean and rstd, not γ
    expect(saves(xFrozen, vec(true), vec(true))).toEqual({ bytes: (rows * C + 2 * rows) * 4, entries: xMeanRstd });
    // x: γ too (ĝ = g·γ); a γ that is not a parameter costs its bytes
    expect(saves(x, vec(false), vec(false))).toEqual({
      bytes: (rows * C + C + 2 * rows) * 4, entries: [xMeanRstd[0], [[C], 'activation', C * 4], xMeanRstd[1], xMeanRstd[2]],
    });
  });

  it('layerNorm with only β requiring grad: dβ is Σ over rows of g', () => {
    const x = randn([2, 3, 4], { seed: 7, dtype: 'float64' }), beta = randn([4], { seed: 8, dtype: 'float64', requiresGrad: true });
    const g = randn([2, 3, 4], { seed: 9, dtype: 'float64' });
    ops.layerNorm(x, randn([4], { seed: 10, dtype: 'float64' }), beta).backward(g);
    const gv = g.dataSync();
    const want = [0, 1, 2, 3].map((c) => [0, 1, 2, 3, 4, 5].reduce((s, r) => s + gv[r * 4 + c]!, 0));
    expect(Array.from(beta.grad!.dataSync())).toEqual(want);
  });

  it('live saved bytes return to 0 after backward; retainGraph keeps them', () => {
    const x = activation([8, 3]), W = weight(3, 2, true);
    const start = savedStats().liveBytes;
    const { result: y, bytes } = measureSaved(() => ops.tanh(ops.matmul(x, W)).sum());
    expect(bytes).toBe((8 * 2 + 8 * 3) * 4);
    expect(savedStats().liveBytes).toBe(start + bytes);
    y.backward(undefined, { retainGraph: true });
    expect(savedStats().liveBytes).toBe(start + bytes);
    y.backward();
    expect(savedStats().liveBytes).toBe(start);
  });

  it('attributes saves to the module path of withModule', () => {
    const x = activation([2, 3]);
    const r = measureSaved(() =>
      withModule('block', () => {
        const h = withModule('fc1', () => ops.tanh(ops.matmul(x, weight(3, 4, false))));
        return withModule('fc2', () => ops.sigmoid(ops.matmul(h, weight(4, 1, false))));
      }),
    );
    expect(r.entries.map((e) => [e.module, e.op, e.bytes])).toEqual([
      ['block.fc1', 'matmul', 0], ['block.fc1', 'tanh', 32], ['block.fc2', 'matmul', 0], ['block.fc2', 'sigmoid', 8],
    ]);
    expect(withModule('outer', () => measureSaved(() => ops.exp(x)).entries[0]!.module)).toBe('outer');
  });

  it('savedStats: the global peak since resetSavedPeak', () => {
    const x = activation([4, 4]);
    resetSavedPeak();
    const base = savedStats().liveBytes;
    ops.exp(x).sum().backward();
    expect(savedStats()).toEqual({ liveBytes: base, peakBytes: base + 64 });
    resetSavedPeak();
    expect(savedStats().peakBytes).toBe(base);
  });

  it('peakBytes is the most live at any point; bytes what is left', () => {
    const x = activation([10, 10]), small = activation([1, 2]);
    const r = measureSaved(() => {
      ops.exp(ops.tanh(x)).sum().backward(); // 800 bytes live, then freed
      return ops.exp(small);
    });
    expect(r.peakBytes).toBe(800);
    expect(r.bytes).toBe(8);
  });

  it('a report is final when measureSaved returns: later saves are not added to it', () => {
    const x = activation([2, 3]);
    const r = measureSaved(() => ops.exp(x));
    const later = ops.tanh(x);
    expect(r.entries.map((e) => e.op)).toEqual(['exp']);
    expect(measureSaved(() => ops.exp(x)).entries.map((e) => e.op)).toEqual(['exp']);
    expect(r.entries.map((e) => e.op)).toEqual(['exp']);
    r.result.dispose();
    later.dispose();
  });
});
