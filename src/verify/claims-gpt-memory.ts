/**
 * Claims 14 and 16b: what a whole GPT step saves, measured (measureSaved of model.loss) against
 * the analytic model of src/memory (methodMemory plus the engine's itemised corrections,
 * gpt-step.ts).
 *   14  Appendix E.2 on the lab's GPT (vocabulary 77, 4 heads, 2 blocks, context 64; width 128 so
 *       that r reaches 128): LoRA-FA with the first t of (q, k, v, o, up, down) adapted in every
 *       block (t·L adapted linears, t = 0 … 6) and rank r in 1 … 128 saves, in float32 (e = 4),
 *         e·[L·(9·N·d + b·h·s² + 4N) + N·V + 2N + 1 − [t = 1]·N·d] + t·L·N·r·e     (t ≥ 1; 0 for t = 0)
 *       (docs/math.md): the only part that depends on the rank or on how many linears are
 *       adapted is N·r per adapted linear.
 *  16b every adapter kind on small GPTs, any subset of the six linears adapted, with and without
 *       dropout: measured = methodMemory(…).activations + Σ corrections.
 */
import fc from 'fast-check';
import { measureForward } from '../memory/table7-columns.ts';
import { savedBreakdown } from '../memory/gpt-step.ts';
import { ADAPTER_KINDS, type AdapterKind } from '../memory/adapters.ts';
import { applyAdapters, DEFAULT_TARGETS, type AdapterMethod } from '../lora/adapters.ts';
import { buildModule } from '../nn/module.ts';
import { GPT, type GptConfig } from '../nn/transformer.ts';
import { tensor } from '../factories.ts';
import { worst, type Claim, type Outcome } from './claim.ts';
import { leak, modelled } from './fault.ts';

/** The lab's GPT architecture (checkpoints/README.md) at width 128. */
const LAB_GPT: GptConfig = { vocab: 77, dim: 128, heads: 4, layers: 2, context: 64 };

interface StepCase {
  cfg: GptConfig;
  kind: AdapterKind;
  /** Adapted linears of every block (ignored for Full-FT). */
  targets: string[];
  batch: number;
  seq: number;
  rank: number;
  /** Adapter dropout (the ops regenerate its mask: it costs nothing). */
  p: number;
  seed: number;
}

/** measureSaved of one forward of model.loss on token ids of the case (a leak fault adds a saved tensor that should not be there). */
function measure(c: StepCase): number {
  const N = c.batch * c.seq;
  const ids = (k: number) => tensor(Int32Array.from({ length: N }, (_, i) => (k * i + c.seed) % c.cfg.vocab), { shape: [c.batch, c.seq] });
  const model = buildModule(() => new GPT(c.cfg, { seed: c.seed, dtype: 'float32' }));
  if (c.kind !== 'full' && c.targets.length > 0) {
    const method = c.kind as AdapterMethod;
    const init = method === 'vera' ? {} : { alpha: c.rank, init: 'orthogonal' as const };
    applyAdapters(model, { method, rank: c.rank, targets: c.targets, dropout: c.p, seed: c.seed, ...init });
  } else if (c.kind !== 'full') model.freeze();
  const [x, y] = [ids(1), ids(3)];
  return measureForward(() => {
    leak();
    return model.loss(x, y);
  }).bytes;
}

/** The analytic side, through the model fault hook. */
function model(c: StepCase): number {
  return modelled(savedBreakdown(c.cfg, c.kind, { batch: c.batch, seq: c.seq, rank: c.rank, targets: c.targets }).expected);
}

/** Claim 14's closed form (docs/math.md, Appendix E.2), independent of src/memory. */
function loraFaStepBytes(cfg: GptConfig, batch: number, seq: number, rank: number, t: number): number {
  if (t === 0) return 0;
  const N = batch * seq, d = cfg.dim, L = cfg.layers;
  return 4 * (L * (9 * N * d + cfg.heads * batch * seq * seq + 4 * N) + N * cfg.vocab + 2 * N + 1 - (t === 1 ? N * d : 0) + t * L * N * rank);
}

const e2Case: fc.Arbitrary<StepCase> = fc.record({
  cfg: fc.constant(LAB_GPT),
  kind: fc.constant<AdapterKind>('lorafa'),
  targets: fc.integer({ min: 0, max: 6 }).map((t) => DEFAULT_TARGETS.slice(0, t)),
  batch: fc.integer({ min: 1, max: 2 }),
  seq: fc.integer({ min: 1, max: 8 }),
  rank: fc.integer({ min: 1, max: 128 }),
  p: fc.constant(0),
  seed: fc.integer({ min: 0, max: 0xffff }),
});

function e2(c: StepCase): Outcome {
  const measured = measure(c);
  const t = c.targets.length;
  const closed = loraFaStepBytes(c.cfg, c.batch, c.seq, c.rank, t), analytic = model(c);
  const where = `t = ${t} (${t * c.cfg.layers} adapted linears), r = ${c.rank}, b = ${c.batch}, s = ${c.seq}: measured ${measured} B`;
  return worst(
    { error: Math.abs(measured - closed), tolerance: 0, note: `${where}, closed form ${closed} B` },
    { error: Math.abs(measured - analytic), tolerance: 0, note: `${where}, src/memory ${analytic} B` },
  );
}

const stepCase: fc.Arbitrary<StepCase> = fc
  .record({
    heads: fc.integer({ min: 1, max: 3 }),
    headDim: fc.integer({ min: 1, max: 4 }),
    layers: fc.integer({ min: 1, max: 2 }),
    vocab: fc.integer({ min: 2, max: 12 }),
    dropout: fc.constantFrom(0, 0.2),
    kind: fc.constantFrom(...ADAPTER_KINDS),
    targets: fc.subarray([...DEFAULT_TARGETS]),
    batch: fc.integer({ min: 1, max: 3 }),
    seq: fc.integer({ min: 1, max: 5 }),
    p: fc.constantFrom(0, 0.1),
    seed: fc.integer({ min: 0, max: 0xffff }),
  })
  .chain((c) => fc.integer({ min: 1, max: c.heads * c.headDim }).map((rank): StepCase => ({
    cfg: { vocab: c.vocab, dim: c.heads * c.headDim, heads: c.heads, layers: c.layers, context: c.seq, dropout: c.dropout },
    kind: c.kind, targets: c.targets, batch: c.batch, seq: c.seq, rank, p: c.p, seed: c.seed,
  })));

function step(c: StepCase): Outcome {
  const measured = measure(c), expected = model(c);
  return { error: Math.abs(measured - expected), tolerance: 0, note: `${c.kind} on [${c.targets.join(', ')}]: measured ${measured} B, model ${expected} B` };
}

export function gptMemoryClaims(): { e2: Claim<never>; step: Claim<never> } {
  const e2Claim: Claim<StepCase> = {
    id: '14 E.2 memory vs rank, layers',
    title: 'LoRA-FA on the lab GPT, r in 1..128, 0..6L adapted linears: saved bytes = the closed form = src/memory; only N·r per adapted linear depends on r or their number',
    unit: 'bytes',
    arbitrary: e2Case,
    check: e2,
    runsFactor: 0.25,
    detects: { leak: 1, model: 1 },
  };
  const stepClaim: Claim<StepCase> = {
    id: '16 memory model vs a GPT step',
    title: 'every adapter kind, any adapted subset of q, k, v, o, up, down, dropout or not: measured saved bytes = methodMemory + the itemised corrections',
    unit: 'bytes',
    arbitrary: stepCase,
    check: step,
    runsFactor: 0.25,
    detects: { leak: 1, model: 1 },
  };
  return { e2: e2Claim as Claim<never>, step: stepClaim as Claim<never> };
}
