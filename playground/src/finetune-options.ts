/**
 * The fine-tune panel's runs as the lab's FineTuneOptions: the page's worker and the Node test that
 * replays it (test/playground) build them here, so both run exactly the same training.
 */
import type { Device } from '../../src/dtype.ts';
import type { FineTuneOptions, LabMethod } from '../../src/lab/fine-tune.ts';

/** The lab methods the panel offers, with their labels (LAB_METHODS' labels). */
export const PLAYGROUND_METHODS: readonly { key: LabMethod; label: string }[] = [
  { key: 'full', label: 'Full-FT' },
  { key: 'lora', label: 'LoRA' },
  { key: 'lorafa', label: 'LoRA-FA' },
  { key: 'lorafa-nc', label: 'LoRA-FA (no correction)' },
  { key: 'lorafb', label: 'LoRA-FB' },
];

export interface FineTuneSettings {
  methods: LabMethod[];
  steps: number;
  batch: number;
  seq: number;
  rank: number;
  seed: number;
}

/** What the page sends its worker: the settings, where to fetch the checkpoint and text, and 'auto' (WebGPU if it works) or 'cpu'. */
export interface FineTuneRequest {
  settings: FineTuneSettings;
  checkpointUrl: string;
  textUrl: string;
  device: 'auto' | 'cpu';
}

/**
 * One method's run: σ = α/r = 2, the lab's learning rates (0.001 for Full-FT, 0.01 for the
 * adapters), the validation loss only at the end (on 8 windows), cos(−ΔW, G) at the quarter steps.
 */
export function fineTuneOptions(method: LabMethod, s: FineTuneSettings, device: Device): FineTuneOptions {
  const label = PLAYGROUND_METHODS.find((m) => m.key === method)?.label ?? method;
  return {
    method, key: method, label, split: 'validation', device,
    steps: s.steps, batch: s.batch, seq: s.seq, rank: s.rank, alpha: 2 * s.rank, seed: s.seed,
    lr: method === 'full' ? 0.001 : 0.01,
    evalEvery: s.steps,
    evalWindows: 8,
    logEvery: 1, // every loss as soon as its step ends
    alignAt: [...new Set([0, 1, 2, 3].map((k) => Math.floor((k * s.steps) / 4)))],
    veraRank: 64,
  };
}
