/**
 * Files are written atomically (src/io/atomic-write.ts): a failed write — a file-size limit that
 * stops the process mid-write, a folder in the way, a missing folder — leaves the old file whole
 * and no temporary file behind (unless the process itself was killed), and the error names the file.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic-write.ts';
import { loadSafetensors, saveSafetensors } from '../../src/node.ts';
import { tensor } from '../../src/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const folder = () => mkdtempSync(join(tmpdir(), 'lorafa-atomic-'));

describe('atomic writes', () => {
  it('replace the old file and leave nothing else behind', async () => {
    const dir = folder(), file = join(dir, 'a.txt');
    writeFileSync(file, 'old');
    await writeFileAtomic(file, 'new');
    writeFileAtomicSync(join(dir, 'b.bin'), new Uint8Array([1, 2, 3]));
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'b.bin']);
  });

  it('leave a checkpoint whole when the writing process hits a file-size limit mid-write', async () => {
    const dir = folder(), file = join(dir, 'model.safetensors');
    await saveSafetensors(file, { w: tensor(new Float32Array(64).fill(1), { shape: [8, 8] }) });
    const before = readFileSync(file);
    // a 4 MB tensor under a 64 KiB limit (ulimit -f counts 1024-byte blocks in bash)
    const script = join(dir, 'save.mts');
    writeFileSync(script, `import { saveSafetensors } from ${JSON.stringify(join(root, 'src/node.ts'))};
import { tensor } from ${JSON.stringify(join(root, 'src/index.ts'))};
await saveSafetensors(${JSON.stringify(file)}, { w: tensor(new Float32Array(1 << 20).fill(2), { shape: [1024, 1024] }) });
`);
    const run = promisify(execFile);
    const outcome = await run('bash', ['-c', `ulimit -f 64 && exec ${join(root, 'node_modules/.bin/tsx')} ${script}`], { cwd: dir })
      .then(() => 'wrote', (e: { stderr: string }) => e.stderr);
    expect(outcome).toMatch(/LorafaError: writeFile: could not write .*model\.safetensors: EFBIG: file too large/);
    expect(readdirSync(dir).sort()).toEqual(['model.safetensors', 'save.mts']);
    expect(readFileSync(file)).toEqual(before);
    const { tensors } = await loadSafetensors(file);
    expect([...tensors.w!.dataSync()].every((v) => v === 1)).toBe(true);
  });

  it('refuse a folder in the way or a missing folder with an error naming the file, leaving no temporary file', async () => {
    const dir = folder(), taken = join(dir, 'report.md');
    mkdirSync(taken);
    await expect(writeFileAtomic(taken, 'x')).rejects.toThrow(new RegExp(`^writeFile: could not write ${taken}: .*; the previous file, if any, is unchanged$`));
    expect(() => writeFileAtomicSync(taken, 'x')).toThrow(/^writeFile: could not write .*report\.md/);
    expect(readdirSync(dir)).toEqual(['report.md']);
    await expect(writeFileAtomic(join(dir, 'no', 'such.txt'), 'x')).rejects.toThrow(/could not write .*no\/such\.txt: ENOENT/);
  });
});
