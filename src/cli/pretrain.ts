/**
 * `lorafa pretrain` (npm run pretrain): pre-trains the base GPT the lab fine-tunes, on the
 * pre-training genre (data/pretrain.txt, Brown corpus press reportage), and writes it to
 * checkpoints/base.safetensors with its config, vocabulary and this command in the metadata.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { numberOption, withUsage } from '../lab/cli-args.ts';
import { BatchSampler, CharTokenizer, evalStarts, loadText, splitTrainVal } from '../data/text.ts';
import { BASE_CHECKPOINT, saveCheckpoint } from '../lab/checkpoint.ts';
import { progressBar } from '../lab/progress.ts';
import { evaluate, trainStep } from '../lab/train.ts';
import { buildModule } from '../nn/module.ts';
import { GPT } from '../nn/transformer.ts';
import { AdamW } from '../optim/adamw.ts';
import { warmupCosine } from '../optim/schedule.ts';

const OPTIONS = {
  steps: { type: 'string', default: '3000' },
  batch: { type: 'string', default: '8' },
  seq: { type: 'string', default: '64' },
  lr: { type: 'string', default: '0.003' },
  seed: { type: 'string', default: '1234' },
  dim: { type: 'string', default: '64' },
  heads: { type: 'string', default: '4' },
  layers: { type: 'string', default: '2' },
  context: { type: 'string', default: '64' },
  'eval-every': { type: 'string', default: '250' },
  out: { type: 'string', default: fileURLToPath(BASE_CHECKPOINT) },
  help: { type: 'boolean', default: false },
} as const;

const USAGE = 'usage: lorafa pretrain [--steps N] [--batch B] [--seq S] [--lr LR] [--seed S] [--dim D] [--heads H] [--layers L] [--context C] [--eval-every N] [--out FILE]';

export function run(args: string[]): Promise<number> {
  return withUsage('pretrain', USAGE, () => pretrain(args));
}

async function pretrain(args: string[]): Promise<number> {
  const { values: v } = parseArgs({ args, options: OPTIONS, strict: true });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const n = (k: 'steps' | 'batch' | 'seq' | 'dim' | 'heads' | 'layers' | 'context' | 'eval-every') => numberOption(k, v[k], { integer: true });
  const [steps, batch, seq, evalEvery] = [n('steps'), n('batch'), n('seq'), n('eval-every')];
  const lr = numberOption('lr', v.lr), seed = numberOption('seed', v.seed, { integer: true, allowZero: true });
  const pretrainText = loadText('pretrain'), finetuneText = loadText('finetune');
  const tokenizer = CharTokenizer.fromTexts(pretrainText, finetuneText); // one vocabulary for both genres
  const { train, val } = splitTrainVal(tokenizer.encode(pretrainText));
  const config = { vocab: tokenizer.size, dim: n('dim'), heads: n('heads'), layers: n('layers'), context: n('context') };
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
  await saveCheckpoint(v.out!, model, tokenizer, {
    command, seed: String(seed), steps: String(steps), data: 'data/pretrain.txt',
    train_loss: trainLoss.toFixed(4), val_loss: lastVal.toFixed(4), seconds: seconds.toFixed(0),
  });
  console.log(`wrote ${v.out} after ${steps} steps in ${seconds.toFixed(0)} s: train loss ${trainLoss.toFixed(4)}, validation loss ${lastVal.toFixed(4)}`);
  return 0;
}
