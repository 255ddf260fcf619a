/**
 * A lab run whose second method fails still leaves a report of the first, which says what failed
 * and what did not run; the command exits 1 with the error on one line. (fineTune is replaced by
 * one that fails for LoRA-FB, so the failure is certain and quick.)
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LorafaError } from '../../src/index.ts';

vi.mock('../../src/lab/fine-tune.ts', async (original) => {
  const real = await original<typeof import('../../src/lab/fine-tune.ts')>();
  return {
    ...real,
    fineTune: (...args: Parameters<typeof real.fineTune>) => {
      if (args[2].method === 'lorafb') throw new LorafaError('loraFB', 'an injected failure');
      return real.fineTune(...args);
    },
  };
});

const { run: lab } = await import('../../src/cli/lab.ts');

describe('a lab run that fails part-way', () => {
  it('keeps the report of the finished methods and says which failed and which did not run', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorafa-partial-'));
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const code = await lab(['--steps', '2', '--batch', '2', '--seq', '8', '--methods', 'lorafa,lorafb,lora', '--seeds', '1', '--out', out]);
    expect(code).toBe(1);
    expect(error.mock.calls.map((c) => c.join(' '))).toContain('lorafa lab: loraFB: an injected failure');
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('This report is incomplete: it has the 1 method(s) that finished. **LoRA-FB failed:** loraFB: an injected failure **Not run:** LoRA.');
    expect(report).toContain('| LoRA-FA |');
    const { results, status } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: { method: string }[]; status: { pending: string[] } };
    expect(results.map((r) => r.method)).toEqual(['lorafa']);
    expect(status.pending).toEqual(['LoRA']);
    expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg/);
  });
});
