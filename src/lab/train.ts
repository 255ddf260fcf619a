import { noGrad } from '../autograd/grad-mode.ts';
import { measureSaved, type SavedEntry } from '../autograd/saved.ts';
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

/**
 * One optimisation step: forward (loss), backward, clip to maxNorm, optimizer step, free the
 * gradients. Intermediates are freed by scope(); with `measure`, the forward runs under
 * measureSaved and its saved bytes (everything held for backward) are returned; with `profile`,
 * the whole step runs under profileMemory and its timeline is returned.
 */
export async function trainStep(model: GPT, opt: Optimizer, batch: Batch, options: { clip?: number; measure?: boolean; profile?: boolean } = {}): Promise<StepResult> {
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
  const value = await loss.item();
  loss.dispose();
  return { loss: value, ...(saved ? { saved } : {}), ...(timeline ? { timeline } : {}) };
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
