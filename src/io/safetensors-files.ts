/**
 * Safetensors files on disk (Node): the bytes are made and parsed by safetensors.ts. Also PEFT
 * adapters, a safetensors file and its JSON config in a folder (src/lora/peft-format.ts).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Device } from '../dtype.ts';
import { fail } from '../errors.ts';
import type { AdapterReport } from '../lora/adapters.ts';
import { applyPeftAdapter, peftAdapterState, type LoadPeftOptions } from '../lora/peft-format.ts';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';
import { parseSafetensors, serializeSafetensors, type SafetensorsContent } from './safetensors.ts';

/** Writes the tensors (read back from any device) and metadata to a safetensors file. */
export async function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  await writeFile(path, await serializeSafetensors(tensors, metadata));
}

/** Reads a safetensors file into tensors on `device` (the default device if not given). */
export async function loadSafetensors(path: string, options: { device?: Device } = {}): Promise<SafetensorsContent> {
  return parseSafetensors(new Uint8Array(await readFile(path)), options);
}

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
  await writeFile(join(dir, PEFT_FILES.weights), bytes);
  await writeFile(join(dir, PEFT_FILES.config), `${JSON.stringify(sorted, null, 2)}\n`);
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
