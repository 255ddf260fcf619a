import { getBackend } from '../backends/registry.ts';
import { fail } from '../errors.ts';
import { BatchSampler, evalStarts, splitTrainVal, type Batch, type CharTokenizer } from '../data/text.ts';
import type { Device } from '../dtype.ts';
import { AdapterLayer } from '../lora/adapter-layer.ts';
import { applyAdapters, type AdapterOptions } from '../lora/adapters.ts';
import { fullGradients } from '../lora/lora-ga.ts';
import { loraPlusGroups } from '../lora/loraplus.ts';
import type { AdapterKind } from '../memory/adapters.ts';
import type { Checkpointing } from '../memory/model.ts';
import { PRECISION_DTYPES, type TrainingPrecision } from '../memory/precision.ts';
import type { MemoryProfile } from '../autograd/profile.ts';
import type { GPT } from '../nn/transformer.ts';
import { AdamW } from '../optim/adamw.ts';
import { warmupCosine } from '../optim/schedule.ts';
import { savedBreakdown, type Correction } from './accounting.ts';
import { appliedAlignment, probeAlignment, type AlignmentProbe } from './alignment.ts';
import { evaluate, PendingLosses, recordStep } from './train.ts';

/** One run of the lab: what it is called, whose memory it has, and how it is built (no adapter: Full-FT). */
interface LabMethodSpec {
  label: string;
  /** The memory kind (src/memory/adapters.ts) its saved bytes follow. */
  kind: AdapterKind;
  /** applyAdapters' options beyond rank, alpha and seed. */
  adapter?: Omit<AdapterOptions, 'rank' | 'alpha' | 'seed' | 'gradients'>;
  /** LoRA+: B's learning rate is this many times A's (optimizer parameter groups). */
  loraPlusRatio?: number;
  /** An SVD init reads W on the host: CPU only. */
  cpuOnly?: boolean;
}

/** Every run the lab knows: key → how to build it. The five of DEFAULT_LAB_METHODS run by default. */
export const LAB_METHODS = {
  full: { label: 'Full-FT', kind: 'full' },
  lora: { label: 'LoRA', kind: 'lora', adapter: { method: 'lora' } },
  lorafa: { label: 'LoRA-FA', kind: 'lorafa', adapter: { method: 'lorafa', correction: 'closed-form' } },
  'lorafa-nc': { label: 'LoRA-FA (no correction)', kind: 'lorafa', adapter: { method: 'lorafa', correction: 'none' } },
  lorafb: { label: 'LoRA-FB', kind: 'lorafb', adapter: { method: 'lorafb', correction: 'closed-form' } },
  rslora: { label: 'rsLoRA', kind: 'lora', adapter: { method: 'lora', rslora: true } },
  loraplus: { label: 'LoRA+ (λ = 16)', kind: 'lora', adapter: { method: 'lora' }, loraPlusRatio: 16 },
  pissa: { label: 'PiSSA', kind: 'lora', adapter: { method: 'lora', init: 'pissa' }, cpuOnly: true },
  'lora-ga': { label: 'LoRA-GA', kind: 'lora', adapter: { method: 'lora', init: 'lora-ga' }, cpuOnly: true },
  lorapro: { label: 'LoRA-Pro', kind: 'lorapro', adapter: { method: 'lorapro' } },
  dora: { label: 'DoRA', kind: 'dora', adapter: { method: 'dora' } },
  vera: { label: 'VeRA', kind: 'vera', adapter: { method: 'vera' } },
  'lorafa-pissa': { label: 'LoRA-FA (PiSSA A)', kind: 'lorafa', adapter: { method: 'lorafa', init: 'pissa' }, cpuOnly: true },
} as const satisfies Record<string, LabMethodSpec>;

export type LabMethod = keyof typeof LAB_METHODS;

/** The lab's --checkpoint values as the blocks' checkpointing (blocks: every block fully checkpointed). */
export const LAB_CHECKPOINTING: Record<string, Checkpointing> = { none: 'none', blocks: 'full', selective: 'selective' };
export const DEFAULT_LAB_METHODS: readonly LabMethod[] = ['full', 'lora', 'lorafa', 'lorafa-nc', 'lorafb'];

export interface FineTuneOptions {
  method: LabMethod;
  /** The run's plan entry (the method key, or '<method>@<rank>' for a matched-parameter run), and its label. */
  key: string;
  label: string;
  /**
   * What the losses are measured on: 'validation', the held-out last tenth of the text (what the
   * report gives); 'tune', the last tenth of the training part, held out from training (what
   * --lr-sweep chooses on, so the reported validation text never picks anything).
   */
  split: 'validation' | 'tune';
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
  /** Fixed windows the validation and training losses are measured on (default 32). */
  evalWindows?: number;
  /**
   * Training losses are read back every this many steps (and at step 0, the end, and before
   * every evaluation or alignment probe), all of them at once: in between, the device runs while
   * the next steps are encoded. onStep is called when a step's loss arrives.
   */
  logEvery: number;
  /** Steps at which the update/gradient alignment is measured (G before that step's update, the update it makes). */
  alignAt: readonly number[];
  device: Device;
  /** VeRA's rank (its shared A and B are cheap, so it usually runs at a larger rank than the others). */
  veraRank: number;
  /**
   * Where to save the trained adapter in PEFT's format (adapter_model.safetensors + adapter_config.json),
   * if anywhere, and the writer that does it (the Node side's savePeftAdapter; this file also runs in pages).
   */
  saveAdapter?: { folder: string; write: (folder: string, model: GPT) => Promise<void> };
  /** Activation checkpointing of every block (none by default). */
  checkpointing?: Checkpointing;
  /**
   * The run's precision (src/memory/precision.ts; fp32 by default): `load` must build the model in
   * its weight dtype; fineTune sets the model's autocast (autocast-bf16).
   */
  precision?: TrainingPrecision;
  /** When a step's loss arrives (step 1-based): the loss and StepInfo. */
  onStep?: (step: number, loss: number, info: StepInfo) => void;
  /** After an alignAt step (1-based): its cos(−ΔW, G) means (MethodResult['alignment']). */
  onAlignment?: (step: number, alignment: { sgd: number; adamw: number }) => void;
}

/** What a live display gets with each loss. */
export interface StepInfo {
  /** Wall time since the previous loss arrived (per step with logEvery 1; probes and evaluations included). */
  ms: number;
  /** measureSaved's bytes of a step's forward (measured at step 0; every step saves the same tensors). */
  savedBytes: number;
}

export interface MethodResult {
  method: LabMethod;
  key: string;
  label: string;
  seed: number;
  lr: number;
  /** The adapters' rank (VeRA's own rank for VeRA; 0 for Full-FT). */
  rank: number;
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
  /** The memory timeline of the first training step (profileMemory: forward, backward, clip and AdamW). */
  timeline: MemoryProfile<unknown>;
  /** backend.memory().peakBytes over the run (weights, gradients, optimizer state, activations, temporaries). */
  peakBytes: number;
  msPerStep: number;
  /** Where the adapter was saved in PEFT's format, or why it was not (only with saveAdapter). */
  adapterSaved?: string;
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
  const spec: LabMethodSpec = LAB_METHODS[o.method];
  const backend = getBackend(o.device);
  const baseline = backend.memory().liveBytes;
  const { model, tokenizer } = await load();
  const precision = PRECISION_DTYPES[o.precision ?? 'fp32'];
  const loaded = model.head.weight.dtype;
  if (loaded !== precision.weights) {
    model.dispose();
    fail('fineTune', `the loaded model is ${loaded} but precision '${o.precision}' trains ${precision.weights} weights; expected load to build the model in ${precision.weights}`);
  }
  model.autocast = precision.autocast;
  const parts = splitTrainVal(tokenizer.encode(text));
  const { train, val } = o.split === 'validation' ? parts : splitTrainVal(parts.train);
  const rank = spec.adapter?.method === 'vera' ? o.veraRank : o.rank;
  let adapted = 0;
  if (spec.adapter) adapted = (await buildAdapters(model, spec.adapter, train, o, rank)).replaced.length;
  else model.unfreeze();
  model.setCheckpointing(o.checkpointing ?? 'none');
  const params = model.trainableParameters();
  const opt = spec.loraPlusRatio
    ? new AdamW(loraPlusGroups(model, { lr: o.lr, ratio: spec.loraPlusRatio }), { lr: o.lr, weightDecay: 0.01 })
    : new AdamW(params, { lr: o.lr, weightDecay: 0.01 });
  const schedule = warmupCosine({ lr: o.lr, warmupSteps: warmupSteps(o.steps), totalSteps: o.steps, minLr: o.lr / 10 });
  const sampler = new BatchSampler(train, o.batch, o.seq, o.seed); // the same batches for every method
  const windows = o.evalWindows ?? 32;
  const valStarts = evalStarts(val, o.seq, windows);
  // LoRA-Pro's factor caches follow A and B, which change every step: on WebGPU they are read back before each forward
  const adapters = model.namedModules().flatMap(([, m]) => (m instanceof AdapterLayer ? [m] : []));
  backend.resetPeak(); // from here: the weights and whatever training adds (loading the file is not counted)
  const curve: MethodResult['curve'] = [], valCurve: MethodResult['valCurve'] = [], alignment: MethodResult['alignment'] = [];
  let savedBytes = 0, peak = 0;
  let timeline: MemoryProfile<unknown> | null = null;
  // ms per step: the wall time of steps 1 … end (step 0 also compiles and measures), batches,
  // uploads and loss read-backs included, less the alignment probes and evaluations
  let stepsFrom = 0, notStepMs = 0;
  const outsideStep = async <T>(step: number, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      if (step > 0) notStepMs += performance.now() - t0;
    }
  };
  const losses = new PendingLosses();
  let lastReport = performance.now();
  const readLosses = async () => {
    for (const { step, loss } of await losses.read()) {
      curve.push({ step, loss });
      const now = performance.now();
      o.onStep?.(step + 1, loss, { ms: now - lastReport, savedBytes });
      lastReport = now;
    }
  };
  try {
    for (let step = 0; step < o.steps; step++) {
      if (step === 1) stepsFrom = performance.now();
      const batch: Batch = sampler.next(o.device);
      for (const layer of adapters) await layer.prepare();
      let probe: AlignmentProbe | null = null;
      if (o.alignAt.includes(step)) {
        await readLosses(); // the probe reads back: the steps before it finish here, not inside it
        peak = Math.max(peak, backend.memory().peakBytes); // the diagnostic's own memory is not the method's
        // the probe's hooks see one call per layer: a checkpoint's recomputation would call each again
        model.setCheckpointing('none');
        probe = await outsideStep(step, () => probeAlignment(model, batch)).finally(() => model.setCheckpointing(o.checkpointing ?? 'none'));
        backend.resetPeak();
      }
      opt.lr = schedule(step);
      const r = recordStep(model, opt, batch, { clip: 1, measure: step === 0, profile: step === 0 });
      losses.add(step, r.loss);
      timeline ??= r.timeline ?? null;
      if (r.saved) savedBytes = r.saved.bytes;
      const evalNow = (step + 1) % o.evalEvery === 0 && step + 1 < o.steps;
      if (step === 0 || losses.size >= o.logEvery || probe || evalNow || step + 1 === o.steps) await readLosses();
      if (probe) {
        peak = Math.max(peak, backend.memory().peakBytes);
        const applied = await outsideStep(step, () => appliedAlignment(probe));
        alignment.push({ step, sgd: mean(probe.layers.map((l) => l.sgd)), adamw: mean(applied) });
        o.onAlignment?.(step + 1, alignment[alignment.length - 1]!);
        backend.resetPeak();
      }
      batch.x.dispose();
      batch.y.dispose();
      if (evalNow) valCurve.push({ step: step + 1, loss: await outsideStep(step, () => evaluate(model, val, valStarts, o.seq, o.batch)) });
    }
  } finally {
    losses.dispose();
  }
  const stepMs = o.steps > 1 ? performance.now() - stepsFrom - notStepMs : 0;
  const peakBytes = Math.max(peak, backend.memory().peakBytes) - baseline;
  const valLoss = await evaluate(model, val, valStarts, o.seq, o.batch);
  valCurve.push({ step: o.steps, loss: valLoss });
  const trainLoss = await evaluate(model, train, evalStarts(train, o.seq, windows), o.seq, o.batch);
  const breakdown = savedBreakdown(model.config, spec.kind, { batch: o.batch, seq: o.seq, rank, checkpoint: o.checkpointing, precision: o.precision });
  const [trainable, total] = [model.numParameters({ trainable: true }), model.numParameters()];
  const adapterSaved = o.saveAdapter ? await saveAdapter(model, spec, `${o.saveAdapter.folder}/${o.key}`, o.saveAdapter.write) : undefined;
  opt.dispose();
  model.dispose();
  return {
    method: o.method, key: o.key, label: o.label, seed: o.seed, lr: o.lr, rank: spec.adapter ? rank : 0, trainable, total, adapted, adapterSaved,
    trainLoss, valLoss, curve, valCurve, savedBytes,
    analyticBytes: breakdown.analytic, expectedBytes: breakdown.expected, corrections: breakdown.corrections,
    peakBytes, msPerStep: stepMs / Math.max(1, o.steps - 1), timeline: timeline!,
    alignment,
    cosSgd: alignment.length ? mean(alignment.map((a) => a.sgd)) : null,
    cosAdamw: alignment.length ? mean(alignment.map((a) => a.adamw)) : null,
  };
}

/**
 * Injects the method's adapters. LoRA-GA's init needs the full gradient of a first batch: drawn
 * by a sampler of its own with the run's seed, it is the same first batch the training sampler
 * yields, so every method still trains on the same batches.
 */
async function buildAdapters(model: GPT, adapter: LabMethodSpec['adapter'] & object, train: Int32Array, o: FineTuneOptions, rank: number) {
  const options: AdapterOptions = { ...adapter, rank, seed: o.seed, ...(adapter.method === 'vera' ? {} : { alpha: o.alpha }) };
  if (adapter.init === 'lora-ga') {
    const first = new BatchSampler(train, o.batch, o.seq, o.seed).next(o.device);
    options.gradients = await fullGradients(model, () => model.loss(first.x, first.y));
    first.x.dispose();
    first.y.dispose();
  }
  return applyAdapters(model, options);
}

/** Saves the trained adapter in PEFT's format in folder, or says why it cannot be (Full-FT, VeRA). */
async function saveAdapter(model: GPT, spec: LabMethodSpec, folder: string, write: (folder: string, model: GPT) => Promise<void>): Promise<string> {
  if (!spec.adapter) return 'not saved: Full-FT has no adapter';
  if (spec.adapter.method === 'vera') return "not saved: VeRA has no PEFT LoRA format (PEFT's VeRA files are not written)";
  await write(folder, model);
  return folder;
}
