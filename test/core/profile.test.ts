import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nn, ops, profileMemory, randn } from '../../src/index.ts';
import { memoryTimelineChart } from '../../src/lab/memory-timeline.ts';
import { renderSvg } from '../../src/lab/charts.ts';

const F32 = 4;

describe('profileMemory (exact bytes)', () => {
  it('tanh(h·W) then sum, forward and backward: allocated and saved bytes after every op', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), (N, d, o) => {
      const x0 = randn([N, d], { seed: 1, requiresGrad: true });
      const W = randn([d, o], { seed: 2, requiresGrad: true, parameter: true });
      const p = profileMemory(() => {
        const h = ops.add(x0, 0);
        const y = ops.matmul(h, W);
        h.dispose();
        const t = ops.tanh(y);
        y.dispose();
        const l = ops.sum(t);
        t.dispose();
        l.backward();
        l.dispose();
      });
      // h [N, d], y and t [N, o], the loss, its seed gradient and the gradients, in floats:
      //   add: h (the scalar 0 is a uniform of the kernel, not a tensor); matmul saves h; tanh saves t (y freed after it);
      //   backward: sum's step makes dt (seed freed); tanh's frees t, makes dy; matmul's frees h, dy, makes dh, dW;
      //   add hands dh to x0.grad.
      expect(p.events.map((e) => [e.phase, e.op, e.allocatedBytes / F32, e.savedBytes / F32])).toEqual([
        ['forward', 'add', N * d, 0],
        ['forward', 'matmul', N * d + N * o, N * d],
        ['forward', 'tanh', N * d + 2 * N * o, N * d + N * o],
        ['forward', 'sum', N * d + N * o + 1, N * d + N * o],
        ['backward', 'sum', N * d + 2 * N * o + 1, N * d + N * o],
        ['backward', 'tanh', N * d + N * o + 1, N * d],
        ['backward', 'matmul', N * d + d * o + 1, 0],
        ['backward', 'add', N * d + d * o + 1, 0],
      ]);
      const peakAt = N * d + 2 * N * o + 1 >= N * d + d * o + 1 ? 4 : 6; // the first event with the most bytes
      expect(p.peak!.event.index).toBe(peakAt);
      if (peakAt === 4) {
        expect(p.peak!.holders).toEqual(expect.arrayContaining([{ op: 'matmul', module: '', bytes: N * d * F32 }, { op: 'tanh', module: '', bytes: N * o * F32 }]));
        expect(p.peak!.otherBytes).toBe((N * o + 1) * F32);
      }
    }));
  });

  it('a checkpointed block: recomputation appears inside backward, saved bytes in forward never exceed its input', () => {
    const run = (mode: nn.BlockCheckpoint) => {
      const block = nn.buildModule(() => new nn.Block(8, 2, 4, { seed: 5, checkpoint: mode }));
      const x = randn([2, 4, 8], { seed: 9, requiresGrad: true });
      const p = profileMemory(() => {
        const y = block.forward(x);
        ops.sum(y).backward();
        y.dispose();
      });
      block.dispose();
      return p;
    };
    const plain = run('none'), full = run('full');
    expect(plain.events.some((e) => e.phase === 'recompute')).toBe(false);
    const firstBackward = full.events.findIndex((e) => e.phase === 'backward');
    expect(full.events.slice(firstBackward).some((e) => e.phase === 'recompute')).toBe(true);
    expect(full.events.slice(0, firstBackward).every((e) => e.phase === 'forward' && e.savedBytes === 2 * 4 * 8 * F32)).toBe(true);
    expect(full.events.filter((e) => e.phase === 'forward').map((e) => `${e.module}:${e.op}`)).toEqual(plain.events.filter((e) => e.phase === 'forward').map((e) => `${e.module}:${e.op}`));
    // one block: its recomputation refills every dropped save at once, so backward holds what the plain forward held
    expect(Math.max(...full.events.map((e) => e.savedBytes))).toBe(Math.max(...plain.events.map((e) => e.savedBytes)));
  });

  it('refuses an async fn; a fn with no op has no peak', () => {
    expect(() => profileMemory(async () => 1)).toThrow(/profileMemory: fn returned a Promise/);
    expect(profileMemory(() => 3)).toEqual({ events: [], peak: null, result: 3 });
  });

  it('the timeline chart renders: one row per run, backward marked, the peak labelled', async () => {
    const x = randn([2, 3], { seed: 1, requiresGrad: true });
    const profile = profileMemory(() => ops.sum(ops.tanh(ops.mul(x, x))).backward());
    const svg = await renderSvg(memoryTimelineChart([{ label: 'run A', profile }, { label: 'run B', profile }], 'a step'));
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['run A — peak', 'run B — peak', 'backward →', 'saved for backward', 'other allocations', `peak ${profile.peak!.event.allocatedBytes} B after ${profile.peak!.event.phase}`]) expect(svg).toContain(text);
  });
});
