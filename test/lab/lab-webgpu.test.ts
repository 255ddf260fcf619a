import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { useBackend } from '../../src/index.ts';
import { run as lab } from '../../src/cli/lab.ts';
import { skipReason, webgpu } from '../webgpu/gpu.ts';

interface Result { method: string; valLoss: number; trainLoss: number; savedBytes: number; expectedBytes: number; cosSgd: number | null; cosAdamw: number | null }

async function runLab(backend: string): Promise<Result[]> {
  const out = mkdtempSync(join(tmpdir(), `lorafa-lab-${backend}-`));
  vi.spyOn(console, 'log').mockImplementation(() => {});
  expect(await lab(['--backend', backend, '--methods', 'full,lorafa,lorafb', '--steps', '2', '--batch', '2', '--seq', '16', '--seeds', '1', '--out', out])).toBe(0);
  vi.restoreAllMocks();
  return (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: Result[] }).results;
}

afterAll(() => useBackend('cpu'));

describe.skipIf(!webgpu)(`lorafa lab --backend webgpu ${skipReason}`, () => {
  it('gives the CPU run\'s losses (float32 tolerance), saved bytes and alignment', async () => {
    const cpu = await runLab('cpu');
    const gpu = await runLab('webgpu');
    expect(gpu.map((r) => r.method)).toEqual(['full', 'lorafa', 'lorafb']);
    gpu.forEach((g, i) => {
      const c = cpu[i]!;
      expect(g.savedBytes, g.method).toBe(c.savedBytes);
      expect(g.savedBytes).toBe(g.expectedBytes);
      expect(g.valLoss).toBeCloseTo(c.valLoss, 3);
      expect(g.trainLoss).toBeCloseTo(c.trainLoss, 3);
      expect(g.cosSgd!).toBeCloseTo(c.cosSgd!, 3);
      expect(g.cosAdamw!).toBeCloseTo(c.cosAdamw!, 2);
    });
  });
});
