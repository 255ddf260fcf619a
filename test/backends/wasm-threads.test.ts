/**
 * The worker pool on Node: threads start in the background and never keep the process alive,
 * and a kernel call split between them gives the calling thread's bits.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('worker threads', () => {
  it('run a split matmul and let the process exit on its own (the workers are unref’d)', async () => {
    const script = `
      import { initCpu, ops, randn } from './src/index.ts';
      const info = await initCpu({ threads: 2, parallelMinFlops: 0 });
      const a = randn([300, 200], { seed: 1 }), b = randn([200, 100], { seed: 2 });
      const two = ops.matmul(a, b).dataSync();
      await initCpu({ threads: 1 });
      const one = ops.matmul(a, b).dataSync();
      console.log(JSON.stringify({ info, same: two.every((v, i) => Object.is(v, one[i])) }));`;
    const t0 = performance.now();
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 60_000 });
    const out = JSON.parse(stdout) as { info: { tier: string; threads: number; limits: string[] }; same: boolean };
    expect(out.info).toMatchObject({ tier: 'wasm', threads: 2, limits: [] });
    expect(out.same).toBe(true);
    expect(performance.now() - t0).toBeLessThan(60_000);
  });
});
