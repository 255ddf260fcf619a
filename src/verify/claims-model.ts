/**
 * Claims 16a, 17 and 18: the analytic memory model (src/memory) against hand-derived formulas and
 * the paper's own arithmetic.
 *   16a methodMemory's weights, gradients, AdamW state, activations and total equal the formulas
 *       of docs/math.md ("The memory model in closed form"), written out here independently, for
 *       GPT-2-style (GELU, tied embeddings, dropout) and Llama-style (SwiGLU, grouped-query
 *       attention) configs, every kind, any adapted subset, PEFT's dropout or not.
 *   17  Table 7: every printed cell equals bytes × what its column stores, and every printed row
 *       sum the sum of its own cells — except the recorded findings (the FP32 GELU cell, the FP16
 *       and BF16 row sums, the BF16 GELU cell's lost unit), each with its numbers; any other
 *       difference, or a finding that no longer shows, fails.
 *   18  Appendix C: LoRA-FA's saving over LoRA is L·b·s·Σ(input widths)·bytes with own copies and
 *       L·b·s·Σ(distinct inputs)·bytes with shared ones, for any config; for Llama2-7B, b = 8,
 *       s = 1024, 16-bit: 18,656,264,192 B ≥ 18 GB (the paper's claim holds) with own copies and
 *       12,213,813,248 B < 18 GB with shared inputs (it does not): the recorded finding.
 */
import fc from 'fast-check';
import { ADAPTER_KINDS, type AdapterKind } from '../memory/adapters.ts';
import { appendixC, methodMemory, MODELS, type RunShape, type TransformerConfig } from '../memory/model.ts';
import { auditTable7, expectedCell, fmtCell, sumCells, TABLE7, TABLE7_COLUMNS, type Cell, type Precision } from '../memory/table7.ts';
import { worst, type Claim, type Outcome } from './claim.ts';
import { modelled } from './fault.ts';

interface TotalsCase {
  cfg: TransformerConfig;
  kind: AdapterKind;
  run: RunShape;
}

type Linear = { name: string; d: number; o: number; input: string };

/** The adapted-linear catalogue of docs/math.md's closed form (q, k, v, o; up | gate, up; down). */
function linears(c: TransformerConfig): Linear[] {
  const d = c.hidden, kv = c.kvHidden ?? d, f = c.ffn;
  const mlp = c.mlp === 'gelu' ? [{ name: 'up', d, o: f, input: 'mlp' }] : [{ name: 'gate', d, o: f, input: 'mlp' }, { name: 'up', d, o: f, input: 'mlp' }];
  return [{ name: 'q', d, o: d, input: 'attn' }, { name: 'k', d, o: kv, input: 'attn' }, { name: 'v', d, o: kv, input: 'attn' }, { name: 'o', d, o: d, input: 'out' },
    ...mlp, { name: 'down', d: f, o: d, input: 'act' }];
}

/** The closed form of docs/math.md for one (config, kind, run). */
function memoryFormula({ cfg, kind, run }: TotalsCase) {
  const { layers: L, hidden: d, heads: h, vocab: V } = cfg, kv = cfg.kvHidden ?? d, f = cfg.ffn, r = run.rank, e = run.bytes;
  const N = run.batch * run.seq, P = h * run.batch * run.seq * run.seq;
  const all = linears(cfg);
  const T = kind === 'full' ? all : all.filter((l) => (run.targets ?? all.map((x) => x.name)).includes(l.name));
  const sum = (ls: Linear[], g: (l: Linear) => number) => ls.reduce((n, l) => n + g(l), 0);
  // parameters: L·(Σ d·o + 2d) + d + V·d·(1 or 2)
  const base = L * (sum(all, (l) => l.d * l.o) + 2 * d) + d + V * d * (cfg.tiedEmbeddings ? 1 : 2);
  const stored = { full: () => 0, lora: (l: Linear) => r * (l.d + l.o), lorafa: (l: Linear) => r * (l.d + l.o), lorafb: (l: Linear) => r * (l.d + l.o),
    lorapro: (l: Linear) => r * (l.d + l.o), dora: (l: Linear) => r * (l.d + l.o) + l.o, vera: (l: Linear) => r + l.o }[kind];
  const trained = { full: () => 0, lora: (l: Linear) => r * (l.d + l.o), lorafa: (l: Linear) => r * l.o, lorafb: (l: Linear) => l.d * r,
    lorapro: (l: Linear) => r * (l.d + l.o), dora: (l: Linear) => r * (l.d + l.o) + l.o, vera: (l: Linear) => r + l.o }[kind];
  const shared = kind === 'vera' ? r * (Math.max(...T.map((l) => l.d)) + Math.max(...T.map((l) => l.o))) : 0;
  const trainable = kind === 'full' ? base : L * sum(T, trained);
  // activations per layer: e·[N·d + N(d + kv) + P + N·kv + N·d] (+ dropout: P·1 + P·e + 2·N·d·1) + MLP (GELU: N·f·e; SwiGLU: 3·N·f·e)
  const layerBase = e * (N * d + N * (d + kv) + P + N * kv + N * d) + (cfg.dropout ? P + P * e + 2 * N * d : 0) + (cfg.mlp === 'gelu' ? 1 : 3) * N * f * e;
  const keepsX = kind !== 'lorafa' && kind !== 'vera';
  const own = keepsX && kind === 'lora' && run.peftDropout;
  const inputs = own ? sum(T, (l) => N * l.d * (e + 1)) : keepsX ? [...new Map(T.map((l) => [l.input, l.d])).values()].reduce((n, w) => n + N * w * e, 0) : 0;
  const xa = kind === 'full' || kind === 'lorafb' ? 0 : T.length * N * r * e;
  const outs = kind === 'dora' || kind === 'vera' ? sum(T, (l) => N * l.o * e) : 0;
  const totalParams = base + L * sum(T, stored) + shared;
  const m = { totalParams, trainableParams: trainable, weights: totalParams * e, gradients: trainable * e, optimizer: 8 * trainable, activations: L * (layerBase + inputs + xa + outs) };
  return { ...m, total: m.weights + m.gradients + m.optimizer + m.activations };
}

const FIELDS = ['totalParams', 'trainableParams', 'weights', 'gradients', 'optimizer', 'activations', 'total'] as const;

function totals(c: TotalsCase): Outcome {
  const got = methodMemory(c.cfg, c.kind, c.run), want = memoryFormula(c);
  return worst(...FIELDS.map((k) => {
    const value = modelled(got[k]);
    return { error: Math.abs(value - want[k]), tolerance: 0, note: `${c.cfg.name}, ${c.kind}, ${k}: src/memory ${value}, formula ${want[k]}` };
  }));
}

/** GPT-2 small (124M) and its style at random sizes; Llama2-7B and Llama-style (SwiGLU, GQA) at random sizes. */
const GPT2: TransformerConfig = { name: 'GPT-2', layers: 12, hidden: 768, heads: 12, ffn: 3072, vocab: 50257, mlp: 'gelu', dropout: true, tiedEmbeddings: true };
const configArb: fc.Arbitrary<TransformerConfig> = fc.oneof(
  fc.constantFrom(GPT2, MODELS['llama2-7b']!, MODELS['llama3-8b']!),
  fc.record({ L: fc.integer({ min: 1, max: 4 }), h: fc.integer({ min: 1, max: 4 }), dh: fc.integer({ min: 1, max: 8 }), fm: fc.integer({ min: 1, max: 4 }), V: fc.integer({ min: 2, max: 50 }), swiglu: fc.boolean(), groups: fc.constantFrom(1, 2, 4), dropout: fc.boolean(), tied: fc.boolean() })
    .map((x): TransformerConfig => {
      const d = x.h * x.dh * x.groups;
      return { name: x.swiglu ? 'Llama-style' : 'GPT-2-style', layers: x.L, hidden: d, heads: x.h * x.groups, ffn: x.fm * d, vocab: x.V, mlp: x.swiglu ? 'swiglu' : 'gelu', ...(x.swiglu && x.groups > 1 ? { kvHidden: d / x.groups } : {}), dropout: x.dropout, tiedEmbeddings: x.tied };
    }),
);
const totalsCase: fc.Arbitrary<TotalsCase> = fc.record({
  cfg: configArb,
  kind: fc.constantFrom(...ADAPTER_KINDS),
  run: fc.record({
    batch: fc.integer({ min: 1, max: 8 }), seq: fc.integer({ min: 1, max: 1024 }), bytes: fc.constantFrom(2, 4), rank: fc.integer({ min: 1, max: 16 }),
    targets: fc.option(fc.shuffledSubarray(['q', 'k', 'v', 'o', 'gate', 'up', 'down'], { minLength: 1 }), { nil: undefined }), peftDropout: fc.boolean(),
  }, { requiredKeys: ['batch', 'seq', 'bytes', 'rank'] }),
}).filter((c) => !c.run.targets || c.kind === 'full' || linears(c.cfg).some((l) => c.run.targets!.includes(l.name))); // at least one adapted linear

/** Table 7 as the audit must find it: what disagrees, with its numbers (docs/math.md, "The paper's activation arithmetic"). */
const TABLE7_FINDINGS: Record<Precision, { wrongCells: [string, string, string][]; columnsSum: string; sumAgrees: boolean; recomputed: string }> = {
  fp32: { wrongCells: [['GELU input', '64bsd', '16bsd']], columnsSum: '114bsd+9bhss', sumAgrees: true, recomputed: '66bsd+9bhss' },
  fp16: { wrongCells: [], columnsSum: '34bsd+5bhss', sumAgrees: false, recomputed: '34bsd+5bhss' },
  'bf16-autocast': { wrongCells: [['GELU input', '5sd', '8bsd']], columnsSum: '30bsd+7bhss (+ GELU input = 5sd, unit lost)', sumAgrees: false, recomputed: '38bsd+7bhss' },
};

function table7(precision: Precision): Outcome {
  const row = TABLE7[precision], want = TABLE7_FINDINGS[precision];
  // what each column stores, read from the model (through the model fault hook: n more b·s·d)
  const stored = row.columns.map((_, i): Cell => { const x = expectedCell(precision, i); return { bsd: modelled(x.bsd), bhss: x.bhss }; });
  const differs = (a: Cell, b: Cell) => a.bsd !== b.bsd || a.bhss !== b.bhss || a.unit !== b.unit;
  const found = row.columns.flatMap((cell, i) => (differs(cell, stored[i]!) ? [[TABLE7_COLUMNS[i], fmtCell(cell), fmtCell(stored[i]!)]] : []));
  const audit = auditTable7().find((a) => a.precision === precision)!;
  const mismatches = [
    ...(JSON.stringify(found) === JSON.stringify(want.wrongCells) ? [] : [`cells that disagree with what they store: ${JSON.stringify(found)}`]),
    ...(fmtCell(sumCells(stored)) === want.recomputed ? [] : [`recomputed sum ${fmtCell(sumCells(stored))}`]),
    ...((!differs(sumCells(row.columns), row.printedSum) && !row.columns.some((x) => x.unit)) === want.sumAgrees ? [] : [`the printed row sum ${want.sumAgrees ? 'no longer agrees' : 'agrees'} with its columns`]),
    ...(JSON.stringify(audit.wrongCells.map((w) => [w.column, w.printed, w.expected])) === JSON.stringify(want.wrongCells) ? [] : ['auditTable7: wrong cells']),
    ...(audit.columnsSum === want.columnsSum && audit.printedSumMatchesColumns === want.sumAgrees && audit.recomputedSum === want.recomputed ? [] : ['auditTable7: sums']),
  ];
  return { error: mismatches.length, tolerance: 0, note: `${precision}: ${mismatches.join('; ') || 'as recorded'}` };
}

interface AppendixCCase {
  cfg: TransformerConfig;
  batch: number;
  seq: number;
  bytes: number;
}

/** The recorded finding for the paper's case (Llama2-7B, b = 8, s = 1024, 2 bytes). */
const APPENDIX_C = { ownCopies: 18_656_264_192, sharedInputs: 12_213_813_248, claim: 18e9 } as const;

function appendix({ cfg, batch, seq, bytes }: AppendixCCase): Outcome {
  const got = appendixC(cfg, batch, seq, bytes);
  const ls = linears(cfg);
  const scale = cfg.layers * batch * seq * bytes;
  const own = scale * ls.reduce((n, l) => n + l.d, 0), shared = scale * [...new Map(ls.map((l) => [l.input, l.d])).values()].reduce((a, b) => a + b, 0);
  const [o, s] = [modelled(got.ownCopies), modelled(got.sharedInputs)];
  const paper = cfg === MODELS['llama2-7b'] && batch === 8 && seq === 1024 && bytes === 2;
  const recorded = !paper || (o === APPENDIX_C.ownCopies && s === APPENDIX_C.sharedInputs && o >= APPENDIX_C.claim && s < APPENDIX_C.claim);
  return worst(
    { error: Math.abs(o - own) + Math.abs(s - shared), tolerance: 0, note: `${cfg.name}: own copies ${o} (formula ${own}), shared ${s} (formula ${shared})` },
    { error: recorded ? 0 : Infinity, tolerance: 0, note: `the paper's case: own ${o} ≥ 18e9 and shared ${s} < 18e9, as recorded` },
  );
}

export function modelClaims(): { totals: Claim<never>; table7: Claim<never>; appendixC: Claim<never> } {
  const t: Claim<TotalsCase> = {
    id: '16 memory model totals',
    title: 'methodMemory = the closed form of docs/math.md (weights, gradients, AdamW, activations, total) for GPT-2- and Llama-style configs, every kind',
    unit: 'bytes',
    arbitrary: totalsCase,
    check: totals,
    detects: { model: 1 },
  };
  const t7: Claim<Precision> = {
    id: '17 Table 7 audit',
    title: 'each printed cell = bytes × what it stores and each row sum = its cells, except the recorded findings (FP32 GELU 64 vs 16 bsd; FP16 58+5 vs 34+5; BF16 86+7 vs 30+7 and GELU "5sd")',
    unit: 'differences',
    arbitrary: fc.constantFrom<Precision>('fp32', 'fp16', 'bf16-autocast'),
    check: table7,
    detects: { model: 1 },
  };
  const c: Claim<AppendixCCase> = {
    id: '18 Appendix C',
    title: "LoRA-FA's saving over LoRA = L·b·s·Σ widths·bytes (own copies) or Σ distinct inputs (shared); Llama2-7B b 8 s 1024: 18.66 GB ≥ 18 GB own, 12.21 GB shared",
    unit: 'bytes',
    arbitrary: fc.oneof(
      fc.constant<AppendixCCase>({ cfg: MODELS['llama2-7b']!, batch: 8, seq: 1024, bytes: 2 }),
      fc.record({ cfg: configArb, batch: fc.integer({ min: 1, max: 16 }), seq: fc.integer({ min: 1, max: 4096 }), bytes: fc.constantFrom(2, 4) }),
    ),
    check: appendix,
    detects: { model: 1 },
  };
  return { totals: t as Claim<never>, table7: t7 as Claim<never>, appendixC: c as Claim<never> };
}
