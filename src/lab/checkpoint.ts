import { fileURLToPath } from 'node:url';
import type { DType, Device } from '../dtype.ts';
import { loadSafetensors, saveSafetensors } from '../io/safetensors-files.ts';
import type { GPT } from '../nn/transformer.ts';
import type { CharTokenizer } from '../data/text.ts';
import { checkpointFrom, type Checkpoint } from './base-model.ts';

export type { Checkpoint } from './base-model.ts';

/** The committed base model the lab fine-tunes (made by `npm run pretrain`, see checkpoints/README.md). */
export const BASE_CHECKPOINT = new URL('../../checkpoints/base.safetensors', import.meta.url);

/**
 * Writes the model's state dict with its config and vocabulary in __metadata__
 * ("config": JSON of GptConfig, "vocab": JSON string of the characters), plus any extra strings.
 */
export async function saveCheckpoint(path: string | URL, model: GPT, tokenizer: CharTokenizer, extra: Record<string, string> = {}): Promise<void> {
  const metadata = { ...extra, config: JSON.stringify(model.config), vocab: JSON.stringify(tokenizer.chars) };
  await saveSafetensors(path instanceof URL ? fileURLToPath(path) : path, model.stateDict(), metadata);
}

/** Rebuilds the GPT from a checkpoint file (base-model.ts) and loads its weights (on device, converted to dtype: float32 by default). */
export async function loadCheckpoint(path: string | URL = BASE_CHECKPOINT, device?: Device, dtype?: DType): Promise<Checkpoint> {
  const file = path instanceof URL ? fileURLToPath(path) : path;
  return checkpointFrom(await loadSafetensors(file, { device }), file, device, dtype);
}
