import { fileURLToPath } from 'node:url';
import type { Device } from '../dtype.ts';
import { fail } from '../errors.ts';
import { loadSafetensors, saveSafetensors } from '../io/safetensors-files.ts';
import { buildModule } from '../nn/module.ts';
import { GPT, type GptConfig } from '../nn/transformer.ts';
import { CharTokenizer } from '../data/text.ts';

/** The committed base model the lab fine-tunes (made by `npm run pretrain`, see checkpoints/README.md). */
export const BASE_CHECKPOINT = new URL('../../checkpoints/base.safetensors', import.meta.url);

/** A GPT and its tokenizer, with what the checkpoint's metadata says about how it was made. */
export interface Checkpoint {
  model: GPT;
  tokenizer: CharTokenizer;
  metadata: Record<string, string>;
}

/**
 * Writes the model's state dict with its config and vocabulary in __metadata__
 * ("config": JSON of GptConfig, "vocab": JSON string of the characters), plus any extra strings.
 */
export async function saveCheckpoint(path: string | URL, model: GPT, tokenizer: CharTokenizer, extra: Record<string, string> = {}): Promise<void> {
  const metadata = { ...extra, config: JSON.stringify(model.config), vocab: JSON.stringify(tokenizer.chars) };
  await saveSafetensors(path instanceof URL ? fileURLToPath(path) : path, model.stateDict(), metadata);
}

/** Rebuilds the GPT from a checkpoint's metadata and loads its weights (float32, on device). */
export async function loadCheckpoint(path: string | URL = BASE_CHECKPOINT, device?: Device): Promise<Checkpoint> {
  const file = path instanceof URL ? fileURLToPath(path) : path;
  const { tensors, metadata } = await loadSafetensors(file, { device });
  if (!metadata.config || !metadata.vocab) fail('loadCheckpoint', `${file} has no "config" and "vocab" metadata; expected a checkpoint written by saveCheckpoint (npm run pretrain)`);
  const config = parseMetadata(file, metadata, 'config') as GptConfig;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) fail('loadCheckpoint', `${file}: metadata "config" is ${metadata.config}; expected a JSON object (GptConfig)`);
  const vocab = parseMetadata(file, metadata, 'vocab');
  if (typeof vocab !== 'string') fail('loadCheckpoint', `${file}: metadata "vocab" is ${metadata.vocab}; expected a JSON string of the vocabulary's characters`);
  const tokenizer = new CharTokenizer(vocab);
  if (tokenizer.size !== config.vocab) fail('loadCheckpoint', `${file}: the vocabulary has ${tokenizer.size} characters but config.vocab is ${config.vocab}`);
  try {
    const model = buildModule(() => new GPT(config, { device, seed: 0 }));
    try {
      model.loadStateDict(tensors);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return { model, tokenizer, metadata };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** The JSON value of a metadata key; a LorafaError naming the file and the key when it is not JSON. */
function parseMetadata(file: string, metadata: Record<string, string>, key: string): unknown {
  try {
    return JSON.parse(metadata[key]!);
  } catch (e) {
    fail('loadCheckpoint', `${file}: metadata "${key}" is not valid JSON (${(e as Error).message}); expected what saveCheckpoint writes`);
  }
}
