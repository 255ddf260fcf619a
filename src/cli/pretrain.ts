/**
 * `lorafa pretrain` (npm run pretrain): pre-trains the base GPT the lab fine-tunes, on the
 * pre-training genre (data/pretrain.txt, Brown corpus press reportage), and writes it to
 * checkpoints/base.safetensors with its config, vocabulary and this command in the metadata.
 */
import { fileURLToPath } from 'node:url';
import { BatchSampler, CharTokenizer, evalStarts, splitTrainVal } from '../data/text.ts';
import { loadText } from '../data/load-text.ts';
import { BASE_CHECKPOINT, saveCheckpoint } from '../lab/checkpoint.ts';
import { progressBar } from '../lab/progress.ts';
import { evaluate, trainStep } from '../lab/train.ts';
import { buildModule } from '../nn/module.ts';
import { GPT } from '../nn/transformer.ts';
import { AdamW } from '../optim/adamw.ts';
import { warmupCosine } from '../optim/schedule.ts';
import { runCommand, type Values } from './options.ts';

export const PRETRAIN = {
  name: 'pretrain',
  summary: 'Pre-trains the base GPT the lab fine-tunes, on data/pretrain.txt, and writes it with its config, vocabulary and this command.',
  options: {
    steps: { kind: 'int', default: 3000, min: 1, help: 'AdamW steps' },
    batch: { kind: 'int', default: 8, min: 1, help: 'sequences per batch' },
    seq: { kind: 'int', default: 64, min: 1, help: 'characters per sequence (at most --context)' },
    lr: { kind: 'number', default: 0.003, min: 0, exclusiveMin: true, help: 'peak learning rate (warm-up, then cosine to a tenth)' },
    seed: { kind: 'seed', default: 1234, help: 'seed of the weights and batches' },
    dim: { kind: 'int', default: 64, min: 1, help: 'model width' },
    heads: { kind: 'int', default: 4, min: 1, help: 'attention heads (must divide --dim)' },
    layers: { kind: 'int', default: 2, min: 1, help: 'transformer blocks' },
    context: { kind: 'int', default: 64, min: 1, help: 'longest sequence the model takes' },
    'eval-every': { kind: 'int', default: 250, min: 1, help: 'steps between validation losses' },
    out: { kind: 'string', default: fileURLToPath(BASE_CHECKPOINT), meta: 'FILE', help: 'where to write the checkpoint' },
  },
} as const;

export function run(args: string[]): Promise<number> {
  return runCommand(PRETRAIN, args, (v) => pretrain(v, args));
}

async function pretrain(v: Values<typeof PRETRAIN.options>, args: string[]): Promise<number> {
  const { steps, batch, seq, lr, seed, 'eval-every': evalEvery } = v;
  const pretrainText = loadText('pretrain'), finetuneText = loadText('finetune');
  const tokenizer = CharTokenizer.fromTexts(pretrainText, finetuneText); // one vocabulary for both genres
  const { train, val } = splitTrainVal(tokenizer.encode(pretrainText));
  const config = { vocab: tokenizer.size, dim: v.dim, heads: v.heads, layers: v.layers, context: v.context };
  const model = buildModule(() => new GPT(config, { seed }));
  const opt = new AdamW(model.parameters(), { lr, weightDecay: 0.01 });
  const schedule = warmupCosine({ lr, warmupSteps: Math.min(100, Math.floor(steps / 10)), totalSteps: steps, minLr: lr / 10 });
  const sampler = new BatchSampler(train, batch, seq, seed);
  const valStarts = evalStarts(val, seq, 64);
  console.log(`pre-training GPT ${JSON.stringify(config)} (${model.numParameters()} parameters) on data/pretrain.txt: ${train.length} training / ${val.length} validation characters`);
  const bar = progressBar('pretrain', steps);
  const t0 = performance.now();
  let recent = 0, lastVal = NaN;
  for (let step = 0; step < steps; step++) {
    opt.lr = schedule(step);
    const b = sampler.next();
    const { loss } = await trainStep(model, opt, b, { clip: 1 });
    b.x.dispose();
    b.y.dispose();
    recent = step === 0 ? loss : 0.98 * recent + 0.02 * loss;
    bar.update(step + 1, recent);
    if ((step + 1) % evalEvery === 0 || step + 1 === steps) {
      lastVal = await evaluate(model, val, valStarts, seq, batch);
      if (!process.stderr.isTTY) console.log(`step ${step + 1}: train loss ${recent.toFixed(4)} (running mean), validation loss ${lastVal.toFixed(4)}`);
    }
  }
  bar.stop();
  const seconds = (performance.now() - t0) / 1000;
  const trainLoss = await evaluate(model, train, evalStarts(train, seq, 64), seq, batch);
  const command = args.length ? `npm run pretrain -- ${args.join(' ')}` : 'npm run pretrain';
  await saveCheckpoint(v.out, model, tokenizer, {
    command, seed: String(seed), steps: String(steps), data: 'data/pretrain.txt',
    train_loss: trainLoss.toFixed(4), val_loss: lastVal.toFixed(4), seconds: seconds.toFixed(0),
  });
  console.log(`wrote ${v.out} after ${steps} steps in ${seconds.toFixed(0)} s: train loss ${trainLoss.toFixed(4)}, validation loss ${lastVal.toFixed(4)}`);
  return 0;
}
