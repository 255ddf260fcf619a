import { getBackend } from '../backends/registry.ts';
import { BatchSampler, evalStarts, splitTrainVal, type Batch, type CharTokenizer } from '../data/text.ts';
import type { Device } from '../dtype.ts';
import { applyAdapters, type AdapterMethod } from '../lora/adapters.ts';
import type { GPT } from '../nn/transformer.ts';
import { AdamW } from '../optim/adamw.ts';
import { warmupCosine } from '../optim/schedule.ts';
import { savedBreakdown, type Correction } from './accounting.ts';
import { appliedAlignment, probeAlignment, type AlignmentProbe } from './alignment.ts';
import { evaluate, trainStep } from './train.ts';

/** The five runs of the lab: key → how to build it. */
export const LAB_METHODS = {
  full: { label: 'Full-FT' },
  lora: { label: 'LoRA', adapter: 'lora' },
  lorafa: { label: 'LoRA-FA', adapter: 'lorafa', correction: 'closed-form' },
  'lorafa-nc': { label: 'LoRA-FA (no correction)', adapter: 'lorafa', correction: 'none' },
  lorafb: { label: 'LoRA-FB', adapter: 'lorafb', correction: 'closed-form' },
} as const satisfies Record<string, { label: string; adapter?: AdapterMethod; correction?: 'closed-form' | 'none' }>;

export type LabMethod = keyof typeof LAB_METHODS;

export interface FineTuneOptions {
  method: LabMethod;
  steps: number;
  rank: number;
  alpha: number;
  seed: number;
  batch: number;
  seq: number;
  /** Peak learning rate (AdamW, warm-up over the first ⌊steps/10⌋ steps — none below 10 — then cosine to a tenth). */
  lr: number;
  /** Validation loss every this many steps (and at the end). */
  evalEvery: number;
  /** Steps at which the update/gradient alignment is measured (G before that step's update, the update it makes). */
  alignAt: readonly number[];
  device: Device;
  onStep?: (step: number, loss: number) => void;
}

export interface MethodResult {
  method: LabMethod;
  label: string;
  trainable: number;
  total: number;
  adapted: number;
  trainLoss: number;
  valLoss: number;
  curve: { step: number; loss: number }[];
  valCurve: { step: number; loss: number }[];
  /** Saved activation bytes of one step, measured by measureSaved. */
  savedBytes: number;
  /** methodMemory's per-layer model × layers, and the exact corrections for this GPT. */
  analyticBytes: number;
  expectedBytes: number;
  corrections: Correction[];
  /** backend.memory().peakBytes over the run (weights, gradients, optimizer state, activations, temporaries). */
  peakBytes: number;
  msPerStep: number;
  /**
   * Per measurement step, means over the targeted layers (src/lab/alignment.ts): sgd =
   * cos(−ΔW_SGD, G), the direction of the method's gradient in weight space (σ·A·g̃_B for
   * LoRA-FA; 1 for Full-FT); adamw = cos(−ΔW_AdamW, G), the update the run really applied.
   */
  alignment: { step: number; sgd: number; adamw: number }[];
  /** Means of alignment over the steps (null when nothing was measured). */
  cosSgd: number | null;
  cosAdamw: number | null;
}

/** Linear warm-up over the first ⌊steps/10⌋ steps (none for fewer than 10 steps). */
export function warmupSteps(steps: number): number {
  return Math.floor(steps / 10);
}

const mean = (xs: number[]): number => {
  const finite = xs.filter((x) => !Number.isNaN(x));
  return finite.reduce((a, b) => a + b, 0) / finite.length;
};

/**
 * Fine-tunes a fresh copy of the base (from `load`) with one method on the fine-tuning text,
 * then frees it. The peak allocated bytes are counted above what was live before the copy was
 * loaded, over the training steps: this run's weights, gradients, optimizer state, activations
 * and temporaries (not the file being parsed, nor the alignment diagnostic).
 */
export async function fineTune(load: () => Promise<{ model: GPT; tokenizer: CharTokenizer }>, text: string, o: FineTuneOptions): Promise<MethodResult> {
  const spec = LAB_METHODS[o.method];
  const backend = getBackend(o.device);
  const baseline = backend.memory().liveBytes;
  const { model, tokenizer } = await load();
  const { train, val } = splitTrainVal(tokenizer.encode(text));
  let adapted = 0;
  if ('adapter' in spec) {
    const correction = 'correction' in spec ? spec.correction : undefined;
    adapted = applyAdapters(model, { method: spec.adapter, rank: o.rank, alpha: o.alpha, seed: o.seed, correction }).replaced.length;
  } else model.unfreeze();
  const params = model.trainableParameters();
  const opt = new AdamW(params, { lr: o.lr, weightDecay: 0.01 });
  const schedule = warmupCosine({ lr: o.lr, warmupSteps: warmupSteps(o.steps), totalSteps: o.steps, minLr: o.lr / 10 });
  const sampler = new BatchSampler(train, o.batch, o.seq, o.seed); // the same batches for every method
  const valStarts = evalStarts(val, o.seq, 32);
  backend.resetPeak(); // from here: the weights and whatever training adds (loading the file is not counted)
  const curve: MethodResult['curve'] = [], valCurve: MethodResult['valCurve'] = [], alignment: MethodResult['alignment'] = [];
  let savedBytes = 0, stepMs = 0, peak = 0;
  for (let step = 0; step < o.steps; step++) {
    const batch: Batch = sampler.next(o.device);
    let probe: AlignmentProbe | null = null;
    if (o.alignAt.includes(step)) {
      peak = Math.max(peak, backend.memory().peakBytes); // the diagnostic's own memory is not the method's
      probe = await probeAlignment(model, batch);
      backend.resetPeak();
    }
    opt.lr = schedule(step);
    const t0 = performance.now();
    const r = await trainStep(model, opt, batch, { clip: 1, measure: step === 0 });
    if (step > 0) stepMs += performance.now() - t0; // step 0 also compiles and measures
    if (probe) {
      peak = Math.max(peak, backend.memory().peakBytes);
      const applied = await appliedAlignment(probe);
      alignment.push({ step, sgd: mean(probe.layers.map((l) => l.sgd)), adamw: mean(applied) });
      backend.resetPeak();
    }
    if (r.saved) savedBytes = r.saved.bytes;
    batch.x.dispose();
    batch.y.dispose();
    curve.push({ step, loss: r.loss });
    o.onStep?.(step + 1, r.loss);
    if ((step + 1) % o.evalEvery === 0 && step + 1 < o.steps) valCurve.push({ step: step + 1, loss: await evaluate(model, val, valStarts, o.seq, o.batch) });
  }
  const peakBytes = Math.max(peak, backend.memory().peakBytes) - baseline;
  const valLoss = await evaluate(model, val, valStarts, o.seq, o.batch);
  valCurve.push({ step: o.steps, loss: valLoss });
  const trainLoss = await evaluate(model, train, evalStarts(train, o.seq, 32), o.seq, o.batch);
  const memoryMethod = 'adapter' in spec ? spec.adapter : 'full';
  const breakdown = savedBreakdown(model.config, memoryMethod, { batch: o.batch, seq: o.seq, rank: o.rank });
  const [trainable, total] = [model.numParameters({ trainable: true }), model.numParameters()];
  opt.dispose();
  model.dispose();
  return {
    method: o.method, label: spec.label, trainable, total, adapted,
    trainLoss, valLoss, curve, valCurve, savedBytes,
    analyticBytes: breakdown.analytic, expectedBytes: breakdown.expected, corrections: breakdown.corrections,
    peakBytes, msPerStep: stepMs / Math.max(1, o.steps - 1),
    alignment,
    cosSgd: alignment.length ? mean(alignment.map((a) => a.sgd)) : null,
    cosAdamw: alignment.length ? mean(alignment.map((a) => a.adamw)) : null,
  };
}
