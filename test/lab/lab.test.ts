import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as calc } from '../../src/cli/calc.ts';
import { run as lab } from '../../src/cli/lab.ts';
import { run as pretrain } from '../../src/cli/pretrain.ts';
import { BASE_CHECKPOINT, loadCheckpoint, saveCheckpoint } from '../../src/lab/checkpoint.ts';
import { CharTokenizer } from '../../src/data/text.ts';
import { buildModule } from '../../src/nn/module.ts';
import { GPT } from '../../src/nn/transformer.ts';
import { serializeSafetensors } from '../../src/io/safetensors.ts';
import { tensor } from '../../src/index.ts';

/** Runs a command with console output captured. */
async function quiet(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  const code = await fn();
  const out = log.mock.calls.map((c) => c.join(' ')).join('\n'), err = error.mock.calls.map((c) => c.join(' ')).join('\n');
  return { code, out, err };
}

afterEach(() => vi.restoreAllMocks());

describe('checkpoint', () => {
  it('the committed base loads with its config, vocabulary and how it was made', async () => {
    const { model, tokenizer, metadata } = await loadCheckpoint(BASE_CHECKPOINT);
    expect(model.config).toEqual(JSON.parse(metadata.config!));
    expect(tokenizer.size).toBe(model.config.vocab);
    expect(metadata.command).toMatch(/^npm run pretrain/);
    expect(metadata.seed).toBeDefined();
  });

  it('round-trips a model and refuses a file without config metadata', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lorafa-ckpt-'));
    const tok = new CharTokenizer('abc');
    const model = buildModule(() => new GPT({ vocab: 3, dim: 4, heads: 2, layers: 1, context: 4 }, { seed: 5 }));
    await saveCheckpoint(join(dir, 'm.safetensors'), model, tok, { note: 'x' });
    const back = await loadCheckpoint(join(dir, 'm.safetensors'));
    expect(back.metadata.note).toBe('x');
    expect(back.tokenizer.chars).toBe('abc');
    expect(back.model.head.weight.dataSync()).toEqual(model.head.weight.dataSync());
    writeFileSync(join(dir, 'bare.safetensors'), await serializeSafetensors({ w: tensor([1]) }));
    const config = JSON.stringify({ vocab: 4, dim: 4, heads: 2, layers: 1, context: 4 });
    writeFileSync(join(dir, 'vocab.safetensors'), await serializeSafetensors(model.stateDict(), { config, vocab: JSON.stringify('abc') }));
    await expect(loadCheckpoint(join(dir, 'vocab.safetensors'))).rejects.toThrow(/the vocabulary has 3 characters but config.vocab is 4/);
    await expect(loadCheckpoint(join(dir, 'bare.safetensors'))).rejects.toThrow(/loadCheckpoint: .*bare.safetensors has no "config" and "vocab" metadata/);
  });
});

describe('lorafa lab', () => {
  it('fine-tunes with all five methods and writes the report, both charts and the results', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorafa-lab-'));
    const { code, out: printed } = await quiet(() => lab(['--steps', '4', '--batch', '2', '--seq', '16', '--out', out]));
    expect(code).toBe(0);
    for (const label of ['Full-FT', 'LoRA', 'LoRA-FA', 'LoRA-FA (no correction)', 'LoRA-FB']) expect(printed).toContain(label);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('| LoRA-FA (no correction) |');
    expect(report.match(/holds exactly\./g)?.length).toBe(5);
    for (const svg of ['loss.svg', 'memory.svg']) expect(readFileSync(join(out, svg), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>$/);
    const { results } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: { method: string; savedBytes: number; expectedBytes: number; trainable: number; curve: unknown[]; cosineByStep: { cosine: number }[] }[] };
    expect(results.map((r) => r.method)).toEqual(['full', 'lora', 'lorafa', 'lorafa-nc', 'lorafb']);
    for (const r of results) {
      expect(r.savedBytes, r.method).toBe(r.expectedBytes);
      expect(r.curve.length).toBe(4);
    }
    const by = Object.fromEntries(results.map((r) => [r.method, r]));
    expect(by.lorafa!.savedBytes).toBeLessThan(by.lora!.savedBytes);
    expect(by.lorafa!.trainable).toBe(by['lorafa-nc']!.trainable);
    // step 0: same base, same A, same batch — the closed form is the better-aligned update
    expect(by.lorafa!.cosineByStep[0]!.cosine).toBeGreaterThanOrEqual(by['lorafa-nc']!.cosineByStep[0]!.cosine - 1e-6);
  });

  it('rejects bad options with a usage message and exit code 2', async () => {
    for (const args of [['--steps', '0'], ['--methods', 'full,dora'], ['--backend', 'tpu'], ['--seq', '65'], ['--frobnicate']]) {
      const { code, err } = await quiet(() => lab(args));
      expect(code, args.join(' ')).toBe(2);
      expect(err).toMatch(/^lorafa lab: .*\nusage: lorafa lab/);
    }
  });
});

describe('lorafa pretrain', () => {
  it('trains a small model and writes a loadable checkpoint recording the command', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lorafa-pre-')), 'tiny.safetensors');
    const args = ['--steps', '3', '--dim', '8', '--heads', '2', '--layers', '1', '--context', '8', '--seq', '8', '--batch', '2', '--eval-every', '2', '--out', file];
    const { code } = await quiet(() => pretrain(args));
    expect(code).toBe(0);
    const { model, metadata } = await loadCheckpoint(file);
    expect(model.config).toMatchObject({ dim: 8, heads: 2, layers: 1, context: 8 });
    expect(metadata.command).toBe(`npm run pretrain -- ${args.join(' ')}`);
    expect(metadata.steps).toBe('3');
    expect((await quiet(() => pretrain(['--lr', '-1']))).code).toBe(2);
  });
});

describe('lorafa calc', () => {
  it('prints every method for Llama2-7B and reproduces Appendix C', async () => {
    const { code, out } = await quiet(() => calc(['--model', 'llama2-7b', '--batch', '8', '--seq', '1024', '--dtype', 'bf16']));
    expect(code).toBe(0);
    for (const m of ['Full-FT', 'LoRA', 'LoRA-FA', 'LoRA-FB']) expect(out).toMatch(new RegExp(`^${m} `, 'm'));
    expect(out).toContain('holds with own copies (18.66 GB), does not hold with shared inputs (12.21 GB)');
    expect(out).toContain('34·b·s·d + 5·b·h·s² = 2483027968 bytes');
    expect(out).toMatch(/fp16 +printed 58bsd\+5bhss +sum of its columns 34bsd\+5bhss +DISAGREES/);
  });

  it('takes a custom model and rejects what it cannot compute', async () => {
    const custom = ['--model', 'custom', '--layers', '2', '--hidden', '64', '--heads', '4', '--ffn', '256', '--vocab', '77', '--mlp', 'gelu', '--dtype', 'fp32', '--batch', '4', '--seq', '64', '--rank', '8'];
    const { code, out } = await quiet(() => calc(custom));
    expect(code).toBe(0);
    expect(out).toMatch(/^LoRA-FA .* 1\.72 MiB/m); // the lab's analytic figure for its own model: 1760 KiB
    for (const [args, msg] of [[['--model', 'gpt5'], /unknown --model gpt5/], [['--dtype', 'int4'], /--dtype int4/], [['--targets', 'q,gate2'], /--targets gate2 not in/], [['--model', 'custom', '--layers', '2'], /--hidden = undefined/]] as const) {
      const r = await quiet(() => calc([...args]));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });
});
