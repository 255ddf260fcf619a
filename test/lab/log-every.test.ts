/**
 * `lab --log-every k`: training losses stay on the device and are read back k at a time. The
 * curve and the progress callbacks are the same as reading every step; on WebGPU the read-backs
 * fall from one per step to one per k steps (plus step 0 and the last), exactly.
 */
import { describe, expect, it } from 'vitest';
import { loadText } from '../../src/data/load-text.ts';
import { BASE_CHECKPOINT, loadCheckpoint } from '../../src/lab/checkpoint.ts';
import { fineTune, type FineTuneOptions } from '../../src/lab/fine-tune.ts';
import { PendingLosses } from '../../src/lab/train.ts';
import { randn, scope, type Device } from '../../src/index.ts';
import { skipReason, webgpu } from '../webgpu/gpu.ts';

const text = loadText('finetune');

/** A short LoRA-FA run; returns its curve and the (step, loss) pairs onStep received. */
async function run(device: Device, logEvery: number, steps: number) {
  const seen: [number, number][] = [];
  const o: FineTuneOptions = {
    method: 'lorafa', key: 'lorafa', label: 'LoRA-FA', split: 'validation', steps, rank: 4, alpha: 8, seed: 3, batch: 2, seq: 8, device,
    alignAt: [], veraRank: 8, lr: 0.01, evalEvery: 1000, logEvery, onStep: (step, loss) => seen.push([step, loss]),
  };
  const r = await fineTune(() => loadCheckpoint(BASE_CHECKPOINT, device), text, o);
  return { curve: r.curve, seen };
}

describe('PendingLosses', () => {
  for (const device of ['cpu', 'webgpu'] as const) {
    it.skipIf(device === 'webgpu' && !webgpu)(`on ${device}: reads every pending loss in step order, frees them, and is empty after ${device === 'webgpu' ? skipReason : ''}`, async () => {
      const pending = new PendingLosses();
      const losses = [0, 1, 2, 3, 4].map((i) => scope(() => randn([3], { seed: i, device }).sum()));
      const expected = await Promise.all(losses.map((l) => l.item()));
      losses.forEach((l, i) => pending.add(10 + i, l));
      const reads = webgpu?.counters.reads ?? 0;
      expect(await pending.read()).toEqual(expected.map((loss, i) => ({ step: 10 + i, loss })));
      if (device === 'webgpu') expect(webgpu!.counters.reads - reads).toBe(1); // one read-back for all five
      expect(losses.every((l) => l.isDisposed)).toBe(true);
      expect([pending.size, await pending.read()]).toEqual([0, []]);
    });
  }

  it('dispose() frees losses that were never read', () => {
    const pending = new PendingLosses();
    const l = randn([2], { seed: 1 }).sum();
    pending.add(0, l);
    pending.dispose();
    expect([l.isDisposed, pending.size]).toEqual([true, 0]);
  });
});

describe('fineTune with logEvery', () => {
  it('on the CPU: the same curve and the same onStep calls, in order, for k = 1, 3 and more than the steps', async () => {
    const every = await run('cpu', 1, 7);
    expect(every.curve.map((c) => c.step)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(every.seen).toEqual(every.curve.map((c) => [c.step + 1, c.loss]));
    for (const k of [3, 100]) expect(await run('cpu', k, 7)).toEqual(every);
  });

  it.skipIf(!webgpu)(`on WebGPU: the same curve, with one loss read-back per k steps (step 0 and the last step apart) ${skipReason}`, async () => {
    const gpu = webgpu!;
    const reads = async (k: number) => {
      const before = gpu.counters.reads;
      const r = await run('webgpu', k, 9);
      return { ...r, reads: gpu.counters.reads - before };
    };
    const one = await reads(1), four = await reads(4);
    expect(four.curve).toEqual(one.curve);
    expect(four.seen).toEqual(one.seen);
    // k = 1: 9 loss read-backs; k = 4: step 0, steps 1–4, steps 5–8 → 3
    expect(one.reads - four.reads).toBe(9 - 3);
  });
});
