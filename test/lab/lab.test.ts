import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as calc } from '../../src/cli/calc.ts';
import { run as lab } from '../../src/cli/lab.ts';
import { run as pretrain } from '../../src/cli/pretrain.ts';
import { BASE_CHECKPOINT, loadCheckpoint, saveCheckpoint } from '../../src/lab/checkpoint.ts';
import { CharTokenizer } from '../../src/data/text.ts';
import { loadText } from '../../src/data/load-text.ts';
import { fineTune } from '../../src/lab/fine-tune.ts';
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
  it('fine-tunes all five methods on two seeds and writes the report (mean ± sd, paired intervals, no unsupported ordering), the charts and every seed\'s results', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorafa-lab-'));
    const { code, out: printed } = await quiet(() => lab(['--steps', '4', '--batch', '2', '--seq', '16', '--seeds', '2', '--out', out]));
    expect(code).toBe(0);
    for (const label of ['Full-FT', 'LoRA', 'LoRA-FA', 'LoRA-FA (no correction)', 'LoRA-FB']) expect(printed).toContain(label);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/\| LoRA-FA \(no correction\) \| 8 \(16\) \| 9,216 \| 0\.01 \| \d\.\d{4} ± \d\.\d{4} \| \d\.\d{4} ± \d\.\d{4} \|/);
    expect(report.match(/holds exactly\./g)?.length).toBe(5);
    for (const svg of ['loss.svg', 'alignment.svg', 'memory.svg', 'memory-per-method.svg', 'memory-timeline.svg']) expect(readFileSync(join(out, svg), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>$/);
    expect(report).toContain('| cos(−ΔW_SGD, G) | cos(−ΔW_AdamW, G) |');
    expect(report).not.toMatch(/\d < [A-Z]/); // no bare ordering: only paired differences with their interval
    expect(report).toMatch(/validation loss, LoRA-FA − LoRA: [+−]\d\.\d{4}, 95% interval \[[+−]\d\.\d{4}, [+−]\d\.\d{4}\] over 2 seeds: (no detectable difference|LoRA-FA (higher \(worse\)|lower \(better\)))\./);
    expect(report).toMatch(/cos\(−ΔW_SGD, G\) of LoRA-FA's closed form was at least that of the uncorrected run at \d+ of 8 \(seed, step\) pairs/);
    type Row = { method: string; key: string; seed: number; savedBytes: number; expectedBytes: number; trainable: number; curve: { loss: number }[]; alignment: { step: number; sgd: number; adamw: number }[]; cosSgd: number; cosAdamw: number };
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { settings: { seeds: number[] }; results: Row[]; comparisons: { a: string; b: string; metric: string; difference: { mean: number; interval: [number, number] } }[] };
    const { results } = json;
    expect(json.settings.seeds).toEqual([42, 43]);
    expect(results.map((r) => `${r.key}@${r.seed}`)).toEqual(['full', 'lora', 'lorafa', 'lorafa-nc', 'lorafb'].flatMap((m) => [`${m}@42`, `${m}@43`]));
    for (const r of results) {
      expect(r.savedBytes, r.method).toBe(r.expectedBytes);
      expect(r.curve.length).toBe(4);
    }
    // results.json is enough to redo the statistics: the paired interval of LoRA-FA − LoRA from the raw per-seed numbers
    const val = (key: string) => results.filter((r) => r.key === key).map((r) => (r as unknown as { valLoss: number }).valLoss);
    const d = val('lorafa').map((x, i) => x - val('lora')[i]!), half = (12.706 * Math.abs(d[0]! - d[1]!) / Math.SQRT2) / Math.SQRT2;
    const c = json.comparisons.find((x) => x.a === 'LoRA-FA' && x.b === 'LoRA' && x.metric === 'valLoss')!;
    expect(c.difference.mean).toBeCloseTo((d[0]! + d[1]!) / 2, 12);
    expect(c.difference.interval[1] - c.difference.interval[0]).toBeCloseTo(2 * half, 9);
    const by = (key: string, seed: number) => results.find((r) => r.key === key && r.seed === seed)!;
    for (const seed of [42, 43]) {
      expect(by('lorafa', seed).savedBytes).toBeLessThan(by('lora', seed).savedBytes);
      expect(by('lorafa', seed).trainable).toBe(by('lorafa-nc', seed).trainable);
      // step 0: same base, same A, same batch — the closed form is the better-aligned gradient direction
      expect(by('lorafa', seed).alignment[0]!.sgd).toBeGreaterThanOrEqual(by('lorafa-nc', seed).alignment[0]!.sgd - 1e-6);
      expect(by('full', seed).cosSgd).toBeCloseTo(1, 5); // Full-FT's SGD direction is G itself
    }
    for (const r of results) {
      expect(r.alignment.map((a) => a.step)).toEqual([0, 1, 2, 3]);
      for (const a of r.alignment) expect(Math.abs(a.adamw)).toBeLessThanOrEqual(1 + 1e-9);
    }
  });

  it('--checkpoint blocks and selective: the same losses as without, fewer saved bytes, predicted exactly; the memory timeline drawn', async () => {
    const run = async (checkpoint: string) => {
      const out = mkdtempSync(join(tmpdir(), `lorafa-lab-${checkpoint}-`));
      const { code } = await quiet(() => lab(['--steps', '2', '--batch', '2', '--seq', '16', '--seeds', '1', '--methods', 'lora,lorafa', '--checkpoint', checkpoint, '--out', out]));
      expect(code).toBe(0);
      const report = readFileSync(join(out, 'report.md'), 'utf8');
      expect(report.match(/holds exactly\./g)?.length).toBe(2);
      expect(readFileSync(join(out, 'memory-timeline.svg'), 'utf8')).toMatch(/^<svg[\s\S]*backward →[\s\S]*<\/svg>$/);
      type Row = { key: string; savedBytes: number; curve: { loss: number }[]; timelinePeak: { event: { phase: string } } };
      return { report, results: (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: Row[] }).results };
    };
    const none = await run('none'), blocks = await run('blocks'), selective = await run('selective');
    expect(blocks.report).toContain('every block keeps only its input and is recomputed in backward');
    for (const [i, r] of none.results.entries()) {
      // recomputation changes no value: the losses are bitwise those of the run without checkpointing
      expect(blocks.results[i]!.curve).toEqual(r.curve);
      expect(selective.results[i]!.curve).toEqual(r.curve);
      expect(blocks.results[i]!.savedBytes).toBeLessThan(selective.results[i]!.savedBytes);
      expect(selective.results[i]!.savedBytes).toBeLessThan(r.savedBytes);
      expect(r.timelinePeak.event.phase).toMatch(/^(forward|backward)$/);
    }
    expect((await quiet(() => lab(['--checkpoint', 'full']))).err).toMatch(/--checkpoint full: expected one of none, blocks, selective/);
  });

  it('leaves the peak allocated bytes as they are when the alignment diagnostic runs (it keeps nothing on the device)', async () => {
    const text = loadText('finetune');
    const peak = async (alignAt: number[]) => (await fineTune(() => loadCheckpoint(BASE_CHECKPOINT), text, {
      method: 'lora', key: 'lora', label: 'LoRA', split: 'validation', steps: 2, rank: 8, alpha: 16, seed: 1, batch: 2, seq: 8, device: 'cpu', alignAt, veraRank: 64, lr: 0.01, evalEvery: 10, logEvery: 1,
    })).peakBytes;
    expect(await peak([0, 1])).toBe(await peak([]));
  });

  it('gives every method the same batches and the same initial adapters on a seed, and other ones on another seed', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorafa-same-'));
    expect((await quiet(() => lab(['--steps', '1', '--batch', '2', '--seq', '16', '--seeds', '2', '--out', out]))).code).toBe(0);
    type Row = { key: string; seed: number; curve: { loss: number }[]; alignment: { sgd: number }[] };
    const { results } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: Row[] };
    const at = (key: string, seed: number) => results.find((r) => r.key === key && r.seed === seed)!;
    for (const seed of [42, 43]) {
      // every method starts at the base model (B = 0, or A = 0 for LoRA-FB): the first loss is the base's loss on that seed's first batch
      const first = results.filter((r) => r.seed === seed).map((r) => r.curve[0]!.loss);
      for (const loss of first) expect(loss).toBeCloseTo(first[0]!, 6);
      // at B = 0, LoRA's first-order direction σ(g_A·B + A·g_B) is σ·A·g_B, LoRA-FA-without-correction's: equal cosines iff the same A and batch
      expect(at('lora', seed).alignment[0]!.sgd).toBeCloseTo(at('lorafa-nc', seed).alignment[0]!.sgd, 9);
    }
    expect(at('lora', 42).curve[0]!.loss).not.toBeCloseTo(at('lora', 43).curve[0]!.loss, 6);
    expect(at('lora', 42).alignment[0]!.sgd).not.toBeCloseTo(at('lora', 43).alignment[0]!.sgd, 6);
  });

  it('--match-params runs LoRA-FA and LoRA-FB at twice the rank with LoRA\'s parameter count; --lr-sweep picks each rate on the tune split and says so', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorafa-match-'));
    const { code } = await quiet(() => lab(['--steps', '2', '--batch', '2', '--seq', '8', '--seeds', '2', '--methods', 'lora,lorafa', '--match-params', '--lr-sweep', '--out', out]));
    expect(code).toBe(0);
    type Row = { key: string; label: string; rank: number; lr: number; trainable: number; valLoss: number };
    const { results, settings } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: Row[]; settings: { lrSweep: { key: string; tried: { lr: number; loss: number }[]; chosen: number }[] } };
    expect([...new Set(results.map((r) => r.key))]).toEqual(['lora', 'lorafa', 'lorafa@16']);
    const of = (key: string) => results.find((r) => r.key === key)!;
    expect(of('lorafa@16')).toMatchObject({ label: 'LoRA-FA (r = 16)', rank: 16, trainable: of('lora').trainable });
    expect(of('lorafa').trainable * 2).toBe(of('lora').trainable);
    expect(settings.lrSweep.map((s) => s.key)).toEqual(['lora', 'lorafa', 'lorafa@16']);
    for (const s of settings.lrSweep) {
      expect(s.tried.map((t) => t.lr)).toEqual([0.01 / 3, 0.01, 0.03]);
      expect(s.chosen).toBe(s.tried.reduce((a, b) => (b.loss < a.loss ? b : a)).lr);
      for (const r of results.filter((x) => x.key === s.key)) expect(r.lr).toBe(s.chosen);
      // the sweep's losses are on the tune split (held out of the training part), not the reported validation text
      expect(s.tried.find((t) => t.lr === s.chosen)!.loss).not.toBeCloseTo(results.find((x) => x.key === s.key)!.valLoss, 6);
    }
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('Learning rates chosen by `--lr-sweep`');
    expect(report).toContain('| LoRA-FA (r = 16) | 16 (32) | 18,432 |');
    expect(report).toMatch(/validation loss, LoRA-FA \(r = 16\) − LoRA: /);
  });

  it('runs a single step (no warm-up) and evaluates in eval mode without leaving it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorafa-lab1-'));
    const { code } = await quiet(() => lab(['--steps', '1', '--methods', 'lorafa', '--batch', '2', '--seq', '8', '--seeds', '1', '--out', out]));
    expect(code).toBe(0);
    const { results } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: { curve: unknown[]; alignment: unknown[] }[] };
    expect([results[0]!.curve.length, results[0]!.alignment.length]).toEqual([1, 1]);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('1 AdamW steps (warm-up 0 steps');
    expect(report).toMatch(/\| LoRA-FA \| 8 \(16\) \| 9,216 \| 0\.01 \| \d\.\d{4} \| \d\.\d{4} \|/); // one seed: no ± sd
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
    const { code, err } = await quiet(() => lab(['--steps', '1', '--base', file]));
    expect(code).toBe(1);
    expect(err).toBe(`lorafa lab: loadCheckpoint: ${file} has no "config" and "vocab" metadata; expected a checkpoint written by saveCheckpoint (npm run pretrain)`);
  });

  it('rejects bad options with a usage message and exit code 2', async () => {
    for (const args of [['--steps', '0'], ['--methods', 'full,adalora'], ['--backend', 'tpu'], ['--seq', '65'], ['--seeds', '0'], ['--seeds', '2.5'], ['--log-every', '0'], ['--log-every', '1.5'], ['--frobnicate'], ['--cpu-tier', 'gpu'], ['--threads', '0']]) {
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
    const doubled = await quiet(() => lab(['--steps', '50', '--methods', 'lora,lorafa', '--rank', '33', '--match-params', '--out', join(dir, 'b')]));
    expect(doubled.code).toBe(2);
    expect(doubled.err).toMatch(/^lorafa lab: --match-params runs LoRA-FA and LoRA-FB at rank 2 × 33 = 66, above min\(d, o\) = 64 of the adapted linears of this model; expected --rank ≤ 32\n/);
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
    const { code } = await quiet(() => lab(['--steps', '2', '--batch', '2', '--seq', '8', '--methods', 'all', '--vera-rank', '16', '--seeds', '1', '--out', out, '--save-adapter', join(out, 'adapters')]));
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
