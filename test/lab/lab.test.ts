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
import { initCpu, LorafaError, tensor } from '../../src/index.ts';
import { evaluate } from '../../src/lab/train.ts';

/** Runs a command with console output captured. */
async function quiet(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const code = await fn();
    const out = log.mock.calls.map((c) => c.join(' ')).join('\n'), err = error.mock.calls.map((c) => c.join(' ')).join('\n');
    return { code, out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
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

  it('names the file and the key when the config or vocab metadata is malformed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lorafa-meta-'));
    const model = buildModule(() => new GPT({ vocab: 3, dim: 4, heads: 2, layers: 1, context: 4 }, { seed: 5 }));
    const config = JSON.stringify(model.config), vocab = JSON.stringify('abc');
    const cases: [Record<string, string>, RegExp][] = [
      [{ config: '{"vocab": 3,', vocab }, /loadCheckpoint: .*m0\.safetensors: metadata "config" is not valid JSON \(.*\); expected what saveCheckpoint writes/],
      [{ config, vocab: 'abc' }, /loadCheckpoint: .*m1\.safetensors: metadata "vocab" is not valid JSON/],
      [{ config: 'null', vocab }, /loadCheckpoint: .*m2\.safetensors: metadata "config" is null; expected a JSON object \(GptConfig\)/],
      [{ config, vocab: '["a", "b", "c"]' }, /loadCheckpoint: .*m3\.safetensors: metadata "vocab" is \["a", "b", "c"\]; expected a JSON string/],
    ];
    for (const [i, [metadata, message]] of cases.entries()) {
      const file = join(dir, `m${i}.safetensors`);
      writeFileSync(file, await serializeSafetensors(model.stateDict(), metadata));
      await expect(loadCheckpoint(file)).rejects.toThrow(LorafaError);
      await expect(loadCheckpoint(file)).rejects.toThrow(message);
    }
  });

  it('evaluate() leaves the model in the mode it found it in', async () => {
    const { model, tokenizer } = await loadCheckpoint(BASE_CHECKPOINT);
    const ids = tokenizer.encode('the quick brown fox jumps over the lazy dog, then sleeps.');
    for (const training of [true, false]) {
      model.train(training);
      expect(Number.isFinite(await evaluate(model, ids, [0, 5, 10], 16, 2))).toBe(true);
      expect(model.namedModules().every(([, m]) => m.training === training)).toBe(true);
    }
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
    expect(report).toContain('| cos(−ΔW_SGD, G) | cos(−ΔW_AdamW, G) |');
    expect(report).not.toMatch(/undoes most of the correction/); // no finding that is not measured
    expect(report).toMatch(/Applied AdamW update, cos\(−ΔW_AdamW, G\): -?\d\.\d{3} with the closed form against -?\d\.\d{3} without/);
    type Row = { method: string; savedBytes: number; expectedBytes: number; trainable: number; curve: unknown[]; alignment: { step: number; sgd: number; adamw: number }[]; cosSgd: number; cosAdamw: number };
    const { results } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: Row[] };
    expect(results.map((r) => r.method)).toEqual(['full', 'lora', 'lorafa', 'lorafa-nc', 'lorafb']);
    for (const r of results) {
      expect(r.savedBytes, r.method).toBe(r.expectedBytes);
      expect(r.curve.length).toBe(4);
    }
    const by = Object.fromEntries(results.map((r) => [r.method, r]));
    expect(by.lorafa!.savedBytes).toBeLessThan(by.lora!.savedBytes);
    expect(by.lorafa!.trainable).toBe(by['lorafa-nc']!.trainable);
    // step 0: same base, same A, same batch — the closed form is the better-aligned gradient direction
    expect(by.lorafa!.alignment[0]!.sgd).toBeGreaterThanOrEqual(by['lorafa-nc']!.alignment[0]!.sgd - 1e-6);
    expect(by.full!.cosSgd).toBeCloseTo(1, 5); // Full-FT's SGD direction is G itself
    for (const r of results) {
      expect(r.alignment.map((a) => a.step)).toEqual([0, 1, 2, 3]);
      for (const a of r.alignment) expect(Math.abs(a.adamw)).toBeLessThanOrEqual(1 + 1e-9);
    }
  });

  it('runs a single step (no warm-up) and evaluates in eval mode without leaving it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorafa-lab1-'));
    const { code } = await quiet(() => lab(['--steps', '1', '--methods', 'lorafa', '--batch', '2', '--seq', '8', '--out', out]));
    expect(code).toBe(0);
    const { results } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: { curve: unknown[]; alignment: unknown[] }[] };
    expect([results[0]!.curve.length, results[0]!.alignment.length]).toEqual([1, 1]);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('1 AdamW steps (warm-up 0 steps');
  });

  it('--cpu-tier and --threads select the CPU kernels the lab trains with, and the report names them', async () => {
    try {
      for (const [args, backend] of [[['--cpu-tier', 'js'], 'CPU (JavaScript, 1 thread)'], [['--threads', '1'], 'CPU (WebAssembly SIMD, 1 thread)']] as const) {
        const out = mkdtempSync(join(tmpdir(), 'lorafa-tier-'));
        const { code, out: printed } = await quiet(() => lab(['--steps', '1', '--methods', 'lorafa', '--batch', '2', '--seq', '8', '--out', out, ...args]));
        expect(code).toBe(0);
        expect(printed).toContain(`on ${backend};`);
      }
    } finally {
      await initCpu({ tier: 'wasm', threads: 1 });
    }
  });

  it('prints an engine error (a bad checkpoint) as one line with exit code 1, no stack trace', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lorafa-bad-')), 'bare.safetensors');
    writeFileSync(file, await serializeSafetensors({ w: tensor([1]) }));
    const { code, err } = await quiet(() => lab(['--steps', '1', '--checkpoint', file]));
    expect(code).toBe(1);
    expect(err).toBe(`lorafa lab: loadCheckpoint: ${file} has no "config" and "vocab" metadata; expected a checkpoint written by saveCheckpoint (npm run pretrain)`);
  });

  it('rejects bad options with a usage message and exit code 2', async () => {
    for (const args of [['--steps', '0'], ['--methods', 'full,adalora'], ['--backend', 'tpu'], ['--seq', '65'], ['--frobnicate'], ['--cpu-tier', 'gpu'], ['--threads', '0']]) {
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
    expect(out).toContain('any adapter dropout as lorafa\'s ops do it (masks regenerated in backward: no extra bytes)');
  });

  it('--peft-dropout models LoRA as PEFT (own dropped copy per adapted linear), and only LoRA', async () => {
    const args = ['--model', 'llama2-7b', '--batch', '8', '--seq', '1024', '--dtype', 'bf16'];
    const row = (out: string, m: string) => out.split('\n').find((l) => l.startsWith(`${m} `))!;
    const plain = (await quiet(() => calc(args))).out, peft = (await quiet(() => calc([...args, '--peft-dropout']))).out;
    expect(peft).toContain("LoRA with PEFT's adapter dropout (own dropped copy of X and a 1-byte mask per adapted linear)");
    expect(peft).toContain('LoRA as PEFT keeps it with lora_dropout > 0; LoRA-FA and LoRA-FB as lorafa\'s ops keep them');
    expect(row(peft, 'LoRA')).not.toBe(row(plain, 'LoRA'));
    for (const m of ['Full-FT', 'LoRA-FA', 'LoRA-FB']) expect(row(peft, m)).toBe(row(plain, m));
    expect((await quiet(() => calc(['--adapter-dropout']))).code).toBe(2);
  });

  it('takes a custom model and rejects what it cannot compute', async () => {
    const custom = ['--model', 'custom', '--layers', '2', '--hidden', '64', '--heads', '4', '--ffn', '256', '--vocab', '77', '--mlp', 'gelu', '--dtype', 'fp32', '--batch', '4', '--seq', '64', '--rank', '8'];
    const { code, out } = await quiet(() => calc(custom));
    expect(code).toBe(0);
    expect(out).toMatch(/^LoRA-FA .* 1\.72 MiB/m); // the lab's analytic figure for its own model: 1760 KiB
    for (const [args, msg] of [[['--model', 'gpt5'], /--model gpt5: expected one of llama2-7b/], [['--dtype', 'int4'], /--dtype int4/], [['--targets', 'q,gate2'], /--targets gate2 not in/], [['--model', 'custom', '--layers', '2'], /--model custom needs --hidden/]] as const) {
      const r = await quiet(() => calc([...args]));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });
});

describe('options are checked before any work', () => {
  it('the lab refuses a rank above min(d, o) of the adapted linears, and an --out that is a file, before training', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lorafa-opts-'));
    const file = join(dir, 'taken');
    writeFileSync(file, 'keep me');
    const started = performance.now();
    const rank = await quiet(() => lab(['--steps', '50', '--methods', 'full,lorafa', '--rank', '65', '--out', join(dir, 'a')]));
    expect(rank.code).toBe(2);
    expect(rank.err).toMatch(/^lorafa lab: --rank 65 exceeds min\(d, o\) = 64 of the adapted linears of this model; expected an integer ≤ 64\n/);
    const out = await quiet(() => lab(['--steps', '50', '--out', file]));
    expect(out.code).toBe(2);
    expect(out.err).toMatch(/^lorafa lab: --out .*taken exists and is not a folder/);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    expect(performance.now() - started).toBeLessThan(20_000); // nothing trained 50 steps
  });

  it('calc applies the same rank rule to the adapted linears it is given', async () => {
    const r = await quiet(() => calc(['--model', 'custom', '--layers', '1', '--hidden', '64', '--heads', '4', '--ffn', '256', '--vocab', '77', '--rank', '65']));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--rank 65 exceeds min\(d, o\) = 64 of the adapted linears/);
    expect((await quiet(() => calc(['--model', 'custom', '--layers', '1', '--hidden', '64', '--heads', '4', '--ffn', '256', '--vocab', '77', '--rank', '64']))).code).toBe(0);
  });
});

describe('lorafa lab --methods all', () => {
  it('runs every method, measures saved bytes equal to the analytic model plus corrections, and saves PEFT adapters that load back', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorafa-all-'));
    const { code } = await quiet(() => lab(['--steps', '2', '--batch', '2', '--seq', '8', '--methods', 'all', '--vera-rank', '16', '--out', out, '--save-adapter', join(out, 'adapters')]));
    expect(code).toBe(0);
    type Row = { method: string; savedBytes: number; expectedBytes: number; adapterSaved?: string; rank: number };
    const { results } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: Row[] };
    expect(results.map((r) => r.method)).toEqual(['full', 'lora', 'lorafa', 'lorafa-nc', 'lorafb', 'rslora', 'loraplus', 'pissa', 'lora-ga', 'lorapro', 'dora', 'vera', 'lorafa-pissa']);
    for (const r of results) expect(r.savedBytes, r.method).toBe(r.expectedBytes);
    expect(results.find((r) => r.method === 'vera')!.rank).toBe(16);
    expect(results.find((r) => r.method === 'full')!.adapterSaved).toBe('not saved: Full-FT has no adapter');
    const { loadPeftAdapter } = await import('../../src/node.ts');
    const { model } = await loadCheckpoint(BASE_CHECKPOINT);
    const report = await loadPeftAdapter(join(out, 'adapters', 'lorafa'), model, { method: 'lorafa' });
    expect(report.replaced.length).toBe(12);
    expect(readFileSync(join(out, 'memory-per-method.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('refuses the CPU-only SVD inits on WebGPU, and a VeRA rank above min(d, o), before any work', async () => {
    const r = await quiet(() => lab(['--methods', 'lora,pissa', '--backend', 'webgpu', '--out', mkdtempSync(join(tmpdir(), 'lorafa-w-'))]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^lorafa lab: --methods pissa need the CPU \(their SVD init reads W on the host\)/);
    const v = await quiet(() => lab(['--methods', 'vera', '--vera-rank', '65', '--out', mkdtempSync(join(tmpdir(), 'lorafa-v-'))]));
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/--vera-rank 65 exceeds min\(d, o\) = 64/);
  });
});
