/**
 * Every file lorafa writes goes through here: the bytes go to a temporary file in the target's
 * folder, are flushed to disk, and the temporary file is renamed over the target. A rename within
 * one folder is atomic, so a reader (or a crash, a full disk, a file-size limit) sees the old file
 * or the new one, never a mix; on an error the old file is untouched and the temporary removed.
 * (A process killed mid-write can leave its temporary file, `.<name>.<pid>.<n>.tmp`, behind.)
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fail } from '../errors.ts';

let counter = 0;

function temporaryFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
}

function failed(path: string, e: unknown): never {
  return fail('writeFile', `could not write ${path}: ${(e as Error).message}; the previous file, if any, is unchanged`);
}

/** Writes data to path atomically (see above). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = temporaryFor(path);
  try {
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    failed(path, e);
  }
}

/** writeFileAtomic for synchronous callers (scripts, benchmarks). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const tmp = temporaryFor(path);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    failed(path, e);
  }
}
