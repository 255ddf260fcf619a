import type { SafetensorsContent } from '../io/safetensors.ts';
import { fail } from '../errors.ts';
import { buildModule } from '../nn/module.ts';
import { GPT, type GptConfig } from '../nn/transformer.ts';
import type { DType, Device } from '../dtype.ts';
import { CharTokenizer } from '../data/text.ts';

/** A GPT and its tokenizer, with what the checkpoint's metadata says about how it was made. */
export interface Checkpoint {
  model: GPT;
  tokenizer: CharTokenizer;
  metadata: Record<string, string>;
}

/**
 * Rebuilds the GPT from a parsed checkpoint (parseSafetensors of what saveCheckpoint wrote, from a
 * file or fetched by a page): config and vocabulary from __metadata__, then the weights; `source`
 * names it in errors; the GPT is built in `dtype` (float32 by default). The parsed tensors are disposed either way.
 */
export function checkpointFrom(content: SafetensorsContent, source: string, device?: Device, dtype?: DType): Checkpoint {
  const { tensors, metadata } = content;
  try {
    if (!metadata.config || !metadata.vocab) fail('loadCheckpoint', `${source} has no "config" and "vocab" metadata; expected a checkpoint written by saveCheckpoint (npm run pretrain)`);
    const config = parseMetadata(source, metadata, 'config') as GptConfig;
    if (config === null || typeof config !== 'object' || Array.isArray(config)) fail('loadCheckpoint', `${source}: metadata "config" is ${metadata.config}; expected a JSON object (GptConfig)`);
    const vocab = parseMetadata(source, metadata, 'vocab');
    if (typeof vocab !== 'string') fail('loadCheckpoint', `${source}: metadata "vocab" is ${metadata.vocab}; expected a JSON string of the vocabulary's characters`);
    const tokenizer = new CharTokenizer(vocab);
    if (tokenizer.size !== config.vocab) fail('loadCheckpoint', `${source}: the vocabulary has ${tokenizer.size} characters but config.vocab is ${config.vocab}`);
    const model = buildModule(() => new GPT(config, { device, dtype, seed: 0 })); // loadStateDict converts the weights to dtype
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

/** The JSON value of a metadata key; a LorafaError naming the source and the key when it is not JSON. */
function parseMetadata(source: string, metadata: Record<string, string>, key: string): unknown {
  try {
    return JSON.parse(metadata[key]!);
  } catch (e) {
    fail('loadCheckpoint', `${source}: metadata "${key}" is not valid JSON (${(e as Error).message}); expected what saveCheckpoint writes`);
  }
}
