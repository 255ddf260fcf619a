import { noGrad } from '../autograd/grad-mode.ts';
import { measureSaved, type SavedEntry } from '../autograd/saved.ts';
import { concat, reshape } from '../autograd/ops/shape.ts';
import { profileMemory, type MemoryProfile } from '../autograd/profile.ts';
import { scope } from '../autograd/scope.ts';
import { batchAt, type Batch } from '../data/text.ts';
import type { GPT } from '../nn/transformer.ts';
import { clipGradNorm } from '../optim/clip.ts';
import type { Optimizer } from '../optim/optimizer.ts';
import type { Tensor } from '../tensor.ts';

/** What one training step reports: its loss and, when measured, what autograd saved for backward. */
export interface StepResult {
  loss: number;
  saved?: { bytes: number; entries: SavedEntry[] };
  /** With `profile`: the memory timeline of the whole step (profileMemory). */
  timeline?: MemoryProfile<unknown>;
}

/** A step as recorded: its loss still on the device (a scalar the caller owns and disposes). */
export interface RecordedStep {
  loss: Tensor;
  saved?: StepResult['saved'];
  timeline?: StepResult['timeline'];
}

/** clip: max gradient norm; measure: the forward's saved bytes; profile: the step's memory timeline. */
export interface StepOptions {
  clip?: number;
  measure?: boolean;
  profile?: boolean;
}

/**
 * One optimisation step, recorded without waiting for the device: forward (loss), backward, clip
 * to maxNorm, optimizer step, free the gradients. Intermediates are freed by scope(); with
 * `measure`, the forward runs under measureSaved and its saved bytes (everything held for
 * backward) are returned; with `profile`, the whole step runs under profileMemory and its
 * timeline is returned. Nothing is read back, so on WebGPU the next step is encoded while this
 * one runs (clip reads nothing: it scales on the device).
 */
export function recordStep(model: GPT, opt: Optimizer, batch: Batch, options: StepOptions = {}): RecordedStep {
  let saved: StepResult['saved'];
  let timeline: StepResult['timeline'];
  const step = () => scope(() => {
    const forward = () => model.loss(batch.x, batch.y);
    let l: Tensor;
    if (options.measure) {
      const r = measureSaved(forward);
      saved = { bytes: r.bytes, entries: r.entries };
      l = r.result;
    } else l = forward();
    l.backward();
    if (options.clip) clipGradNorm(opt.params, options.clip)?.dispose();
    opt.step();
    opt.zeroGrad();
    return l;
  });
  let loss: Tensor;
  if (options.profile) {
    const p = profileMemory(step, { device: batch.x.device });
    loss = p.result;
    timeline = { ...p, result: undefined };
  } else loss = step();
  return { loss, ...(saved ? { saved } : {}), ...(timeline ? { timeline } : {}) };
}

/** recordStep, then its loss read back (one read-back per step). */
export async function trainStep(model: GPT, opt: Optimizer, batch: Batch, options: StepOptions = {}): Promise<StepResult> {
  const { loss, saved, timeline } = recordStep(model, opt, batch, options);
  const value = await loss.item();
  loss.dispose();
  return { loss: value, ...(saved ? { saved } : {}), ...(timeline ? { timeline } : {}) };
}

/**
 * Losses of recorded steps, kept on the device and read back together (`lab --log-every k`):
 * one read-back per k steps instead of one per step, so the device runs steps while the host
 * encodes the next ones, and each read-back's round trip is paid once per k steps.
 */
export class PendingLosses {
  private pending: { step: number; loss: Tensor }[] = [];

  /** Adopts `loss` (a scalar) of `step`. */
  add(step: number, loss: Tensor): void {
    this.pending.push({ step, loss });
  }

  get size(): number {
    return this.pending.length;
  }

  /** Every pending loss, in step order, from one read-back; they are disposed and forgotten. */
  async read(): Promise<{ step: number; loss: number }[]> {
    const taken = this.pending;
    this.pending = [];
    if (taken.length === 0) return [];
    const all = scope(() => noGrad(() => concat(taken.map((p) => reshape(p.loss, [1])), 0))); //  [count]
    try {
      const values = await all.data();
      return taken.map((p, i) => ({ step: p.step, loss: values[i]! }));
    } finally {
      all.dispose();
      for (const p of taken) p.loss.dispose();
    }
  }

  /** Frees the pending losses unread (after a failure). */
  dispose(): void {
    for (const p of this.pending.splice(0)) p.loss.dispose();
  }
}

/**
 * Mean loss over fixed windows (in chunks of `batch` windows), in eval mode and without a graph;
 * the model is left in the mode it was in.
 */
export async function evaluate(model: GPT, ids: Int32Array, starts: readonly number[], seq: number, batch: number): Promise<number> {
  const wasTraining = model.training;
  model.eval();
  let total = 0;
  try {
    for (let i = 0; i < starts.length; i += batch) {
      const chunk = starts.slice(i, i + batch);
      const b = batchAt(ids, chunk, seq, model.tok.weight.device);
      const loss = scope(() => noGrad(() => model.loss(b.x, b.y)));
      total += (await loss.item()) * chunk.length;
      for (const t of [loss, b.x, b.y]) t.dispose();
    }
  } finally {
    model.train(wasTraining);
  }
  return total / starts.length;
}
