/** PEFT adapters on disk (Node): a folder with adapter_model.safetensors and adapter_config.json (src/lora/peft-format.ts). */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../errors.ts';
import type { AdapterReport } from '../lora/adapters.ts';
import { applyPeftAdapter, peftAdapterState, type LoadPeftOptions } from '../lora/peft-format.ts';
import type { Module } from '../nn/module.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { parseSafetensors, serializeSafetensors } from './safetensors.ts';

/** The two files of a PEFT adapter folder. */
export const PEFT_FILES = { weights: 'adapter_model.safetensors', config: 'adapter_config.json' } as const;

/**
 * Writes the model's adapters to dir as PEFT does: adapter_model.safetensors (metadata
 * { format: 'pt' }) and adapter_config.json (keys sorted, 2-space indent). Creates dir.
 */
export async function savePeftAdapter(dir: string, model: Module, options: { baseModel?: string } = {}): Promise<void> {
  const { config, tensors } = peftAdapterState(model, options);
  const bytes = await serializeSafetensors(tensors, { format: 'pt' });
  const sorted = Object.fromEntries(Object.keys(config).sort().map((k) => [k, config[k]]));
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, PEFT_FILES.weights), bytes);
  await writeFileAtomic(join(dir, PEFT_FILES.config), `${JSON.stringify(sorted, null, 2)}\n`);
}

/** Reads a PEFT adapter folder and loads it onto the model (all or nothing; see applyPeftAdapter). */
export async function loadPeftAdapter(dir: string, model: Module, options: LoadPeftOptions = {}): Promise<AdapterReport> {
  const [bytes, text] = await Promise.all([PEFT_FILES.weights, PEFT_FILES.config].map((f) => readFile(join(dir, f)).catch((e: Error) => {
    fail('loadPeftAdapter', `cannot read ${join(dir, f)} (${e.message}); expected a folder with ${PEFT_FILES.weights} and ${PEFT_FILES.config}`);
  })));
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(text!.toString('utf8'));
  } catch (e) {
    fail('loadPeftAdapter', `${join(dir, PEFT_FILES.config)} is not valid JSON (${(e as Error).message})`);
  }
  const weight = model.parameters()[0];
  const { tensors } = parseSafetensors(new Uint8Array(bytes!), { device: weight?.device });
  return applyPeftAdapter(model, { config, tensors }, options);
}
