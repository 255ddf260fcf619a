/** Safetensors files on disk (Node): the bytes are made and parsed by safetensors.ts. */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.ts';
import type { Device } from '../dtype.ts';
import { fail } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { parseSafetensors, serializeSafetensors, type SafetensorsContent } from './safetensors.ts';

/** Writes the tensors (read back from any device) and metadata to a safetensors file, atomically (io/atomic-write.ts). */
export async function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(path, await serializeSafetensors(tensors, metadata));
}

/** Reads a safetensors file into tensors on `device` (the default device if not given). */
export async function loadSafetensors(path: string, options: { device?: Device } = {}): Promise<SafetensorsContent> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    return fail('loadSafetensors', `cannot read ${path}: ${(e as Error).message}`);
  }
  return parseSafetensors(bytes, options);
}
