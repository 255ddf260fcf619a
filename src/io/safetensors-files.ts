/** Safetensors files on disk (Node): the bytes are made and parsed by safetensors.ts. */
import { readFile, writeFile } from 'node:fs/promises';
import type { Device } from '../dtype.ts';
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
