/**
 * Measured saved-activation bytes against the analytic figures (`npm run bench:memory`):
 *   1. one adapted linear layer: each method against docs/math.md's table, and LoRA-FA/LoRA against r/(d + r);
 *   2. one transformer block: each op against the paper's Table 7 (float32 columns) and the
 *      block against Korthikanti et al.'s 34·b·s·d + 5·b·h·s² (16-bit);
 *   2b. the same block measured per op in float32, pure float16, pure bfloat16 and autocast-bf16,
 *      each next to Table 7's cell of its row (FP32, FP16, Autocast-BF16);
 *   3. the block per method against the per-layer analytic model (src/memory methodMemory);
 *   4. the block with full and selective activation checkpointing (kept, peak saved, peak allocated, ms);
 *   5. Full-FT, LoRA, LoRA-FA, LoRA with checkpointed blocks and LoRA-FA with selective recomputation
 *      on the lab GPT (saved bytes against the prediction, a step's peak, ms/step, interleaved);
 *   6. the memory timeline of one step per run of 5, drawn to docs/memory-timeline.svg;
 *   7. sweeps on the lab GPT: rank 1 … 128 and the number of adapted linears (Figure 4(b) in kind),
 *      saved bytes measured against the prediction.
 * Sections 1–3 run forward passes only (saved bytes are known once forward returns). Prints
 * markdown and rewrites the memory section of bench/RESULTS.md (between its memory markers).
 */
import { writeSection } from './results.ts';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { loadavg } from 'node:os';
import { autocast, full, measureSaved, noGrad, ops, profileMemory, randn, scope, type MemoryProfile, type Tensor } from '../src/index.ts';
import { PRECISION_DTYPES, type TrainingPrecision } from '../src/memory/precision.ts';
import { renderSvg } from '../src/lab/charts.ts';
import { BASE_CHECKPOINT, loadCheckpoint } from '../src/lab/checkpoint.ts';
import { memoryTimelineChart } from '../src/lab/memory-timeline.ts';
import { trainStep } from '../src/lab/train.ts';
import { BatchSampler } from '../src/data/text.ts';
import { loadText } from '../src/data/load-text.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { fmtBytes } from '../src/memory/format.ts';
import { bytesByColumn, LN_STATS, measureForward, OTHER, WEIGHT_COPIES } from '../src/memory/table7-columns.ts';
import { korthikantiBytes, methodMemory } from '../src/memory/model.ts';
import { ADAPTER_KINDS } from '../src/memory/adapters.ts';
import { DoraLinear } from '../src/lora/dora-layer.ts';
import { VeraLinear, VeraProjections } from '../src/lora/vera-layer.ts';
import { expectedCell, fmtCell, TABLE7, TABLE7_COLUMNS, type Precision } from '../src/memory/table7.ts';
import { Linear } from '../src/nn/linear.ts';
import { LoraFaLinear, LoraFbLinear, LoraLinear, LoraProLinear } from '../src/lora/layers.ts';
import { buildModule, type Module } from '../src/nn/module.ts';
import { Block, type BlockCheckpoint } from '../src/nn/transformer.ts';
import { applyAdapters } from '../src/lora/adapters.ts';
import { savedBreakdown, transformerConfig } from '../src/lab/accounting.ts';

const F32 = 4;
const out: string[] = [];
const say = (line = '') => {
  out.push(line);
  console.log(line);
};

/** Saved bytes of layer.forward(x) (forward only; the graph is released afterwards). */
function savedBytes(layer: Module, x: Tensor): number {
  return measureForward(() => (layer.forward as (x: Tensor) => Tensor)(x)).bytes;
}

// ---------------------------------------------------------------- 1. one linear layer
const O = 128; // the output width: only DoRA's and VeRA's saved bytes depend on it (it has to allow r ≤ min(d, o))
const NS = [256, 1024, 8192], DS = [256, 1024, 4096], RS = [1, 8, 128];
const METHODS = [
  { name: 'Full-FT', formula: (N: number, d: number) => N * d, make: (base: Linear) => base },
  { name: 'LoRA', formula: (N: number, d: number, r: number) => N * (d + r), make: (base: Linear, r: number) => new LoraLinear(base, { rank: r, alpha: 2 * r, seed: 1 }) },
  { name: 'LoRA-FB', formula: (N: number, d: number) => N * d, make: (base: Linear, r: number) => new LoraFbLinear(base, { rank: r, alpha: 2 * r, seed: 1 }) },
  { name: 'LoRA-FA', formula: (N: number, _d: number, r: number) => N * r, make: (base: Linear, r: number) => new LoraFaLinear(base, { rank: r, alpha: 2 * r, seed: 1 }) },
  { name: 'LoRA, dropout 0.1', formula: (N: number, d: number, r: number) => N * (d + r), make: (base: Linear, r: number) => new LoraLinear(base, { rank: r, alpha: 2 * r, seed: 1, dropout: 0.1 }) },
  { name: 'LoRA-FA, dropout 0.1', formula: (N: number, _d: number, r: number) => N * r, make: (base: Linear, r: number) => new LoraFaLinear(base, { rank: r, alpha: 2 * r, seed: 1, dropout: 0.1 }) },
  { name: 'LoRA-Pro', formula: (N: number, d: number, r: number) => N * (d + r), make: (base: Linear, r: number) => new LoraProLinear(base, { rank: r, alpha: 2 * r, seed: 1 }) },
  { name: 'DoRA', formula: (N: number, d: number, r: number) => N * (d + r + O), make: (base: Linear, r: number) => new DoraLinear(base, { rank: r, alpha: 2 * r, seed: 1 }) },
  { name: 'VeRA', formula: (N: number, _d: number, r: number) => N * (r + O), make: (base: Linear, r: number) => new VeraLinear(base, new VeraProjections(r, base.inFeatures, O, { seed: 1 })) },
];

const t0 = performance.now();
say('## Saved activations (bench/memory.ts)');
say();
say(`Command: \`npm run bench:memory\`, ${new Date().toISOString().slice(0, 10)}, float32 (4 bytes per element), forward passes only.`);
say();
say('### 1. One adapted linear layer against docs/math.md');
say();
say(`A Linear d → o = ${O} (only DoRA's and VeRA's saved bytes depend on o) wrapped by each layer, input X [N, d]; every cell is`);
say('the measured `measureSaved` bytes, and "= table" says whether each equals docs/math.md\'s elements × 4 bytes:');
say('Full-FT N·d, LoRA N·(d + r), LoRA-FB N·d, LoRA-FA N·r, LoRA-Pro N·(d + r), DoRA N·(d + r + o), VeRA N·(r + o).');
say('Measured at every N ∈ {256, 1024, 8192}, d ∈ {256, 1024, 4096},');
say('r ∈ {1, 8, 128} below (the formula has no other dependence, so larger grids only repeat it). With adapter dropout,');
say('the mask is regenerated from a seed in backward, so LoRA keeps one X (not X and a dropped copy) and LoRA-FA still only XA.');
say();
say(`| N | d | r | ${METHODS.map((m) => m.name).join(' | ')} | = table | LoRA-FA / LoRA | r/(d + r) |`);
say(`| ---: | ---: | ---: |${METHODS.map(() => ' ---: ').join('|')}| :---: | ---: | ---: |`);
let allExact = true;
for (const N of NS) {
  for (const d of DS) {
    const x = full([N, d], 0.5);
    for (const r of RS) {
      const measured = METHODS.map((m) => {
        const layer = buildModule(() => m.make(new Linear(d, O, { seed: 3 }), r));
        const bytes = savedBytes(layer, x);
        layer.dispose();
        return bytes;
      });
      const exact = METHODS.every((m, i) => measured[i] === m.formula(N, d, r) * F32);
      allExact &&= exact;
      const ratio = measured[3]! / measured[1]!;
      say(`| ${N} | ${d} | ${r} | ${measured.map(fmtBytes).join(' | ')} | ${exact ? 'yes' : '**no**'} | ${ratio.toFixed(5)} | ${(r / (d + r)).toFixed(5)} |`);
    }
    x.dispose();
  }
}
say();
say(allExact
  ? 'Every measured cell equals docs/math.md\'s table exactly, so LoRA-FA/LoRA = N·r/(N·(d + r)) = r/(d + r) exactly (the last two columns agree to every digit).'
  : '**Some cells differ from docs/math.md\'s table** (marked "no").');
say();

// ---------------------------------------------------------------- 2. one transformer block against Table 7
const [b, s, d, h] = [2, 128, 256, 4];
const bsd = b * s * d, bhss = b * h * s * s, bs = b * s;
const block = buildModule(() => new Block(d, h, s, { dropout: 0.1, seed: 5 }));
const x0 = randn([b, s, d], { seed: 9, requiresGrad: true });
const full32 = scope(() => {
  const x = ops.add(x0, 0); // a non-leaf input that requires grad, as between two blocks
  const r = measureForward(() => block.forward(x));
  return { bytes: r.bytes, columns: bytesByColumn(r.entries) };
});
const printed = TABLE7.fp32.columns;
const why: Record<string, string> = {
  'attention LN': 'LayerNorm input',
  'QKV input': 'one copy: q, k and v read the same LN output (deduplicated by storage)',
  QKV: 'Q and K (for QKᵀ) and V (for probs·V), [b, h, s, d/h] each',
  softmax: 'softmax output',
  'attention dropout mask': 'not stored: the mask is regenerated from (seed, offset) in backward',
  'matmul V': 'the dropped probabilities (without dropout: the softmax output again, counted once)',
  'output input': 'input of o',
  'output dropout mask': 'not stored (regenerated)',
  'MLP LN': 'LayerNorm input',
  'up input': 'input of up',
  'GELU input': 'GELU input [b, s, 4d]: 4 bytes × 4d = 16·bsd; the printed 64·bsd is 4× too large',
  'down input': 'GELU output [b, s, 4d]',
  'MLP dropout mask': 'not stored (regenerated)',
};
const cell = (c: { bsd: number; bhss: number }) => c.bsd * bsd + c.bhss * bhss;
/** bytes as a multiple of b·s·d, b·h·s² or b·s (the unit that column is counted in). */
const coef = (bytes: number, unit: 'bsd' | 'bhs²' | 'bs') => (bytes === 0 ? '0' : `${bytes / { bsd, 'bhs²': bhss, bs }[unit]}·${unit}`);
say('### 2. One transformer block (Full-FT, dropout 0.1) against Table 7 and Korthikanti et al.');
say();
say(`Block: pre-LN, d = ${d}, h = ${h}, MLP 4d with GELU, attention and residual dropout 0.1; b = ${b}, s = ${s}`);
say(`(b·s·d = ${bsd}, b·h·s² = ${bhss}); input requiring grad, every weight trained. "Table 7" is the paper's printed FP32 cell,`);
say('"4 B × tensor" what that column stores at 4 bytes per element (dropout masks: 1 byte), "measured" the `measureSaved` entries of that op.');
say();
say('| column | Table 7 (FP32, printed) | 4 B × tensor | measured | measured bytes | why |');
say('| --- | ---: | ---: | ---: | ---: | --- |');
let sumPrinted = 0, sumExpected = 0;
TABLE7_COLUMNS.forEach((c, i) => {
  const p = cell(printed[i]!), e = cell(expectedCell('fp32', i)), m = full32.columns.get(c)!;
  const unit = expectedCell('fp32', i).bhss ? 'bhs²' : 'bsd';
  sumPrinted += p;
  sumExpected += e;
  say(`| ${c} | ${coef(p, unit)} | ${coef(e, unit)} | ${coef(m, unit)} | ${m} | ${why[c]} |`);
});
const stats = full32.columns.get(LN_STATS)!;
say(`| ${LN_STATS} | – | – | ${coef(stats, 'bs')} | ${stats} | mean and rstd [b·s] of both LayerNorms, kept for their backward |`);
say(`| **total** | 114·bsd + 9·bhs² = ${sumPrinted} | 66·bsd + 9·bhs² = ${sumExpected} | 64·bsd + 8·bhs² + 16·bs | ${full32.bytes} | measured = 4 B × tensor − masks (2·bsd + bhs² at 1 byte) + LN statistics (16·bs): ${sumExpected - 2 * bsd - bhss + 16 * bs === full32.bytes ? 'holds exactly' : '**does not hold**'} |`);
say();
const korth = korthikantiBytes(b, s, d, h);
const halved = full32.bytes / 2; // every tensor this block saves is float32: the same tensors at 2 bytes
say(`Korthikanti et al.'s 16-bit total 34·bsd + 5·bhs² = ${korth} bytes. The same tensors as measured, at 2 bytes per element:`);
say(`${halved} bytes. The difference ${korth - halved} = 2·bsd + bhs² (the three dropout masks at 1 byte, which this engine does not store)`);
say(`− 8·bs (the LayerNorm statistics at 2 bytes, which Korthikanti et al. do not count): ${korth - halved === 2 * bsd + bhss - 8 * bs ? 'holds exactly' : '**does not hold**'}.`);
say('The printed FP32 row sum 114·bsd + 9·bhs² equals the sum of its own cells, but the GELU cell (64·bsd) is 4× what it stores (16·bsd): from first principles FP32 is 66·bsd + 9·bhs².');
say();

// ---------------------------------------------------------------- 2b. the block in every precision against Table 7's rows
/** The block of section 2 built and run in a precision: bytes per Table 7 column (and the extra rows). */
function blockColumns(precision: TrainingPrecision): Map<string, number> {
  const { weights, autocast: dtype } = PRECISION_DTYPES[precision];
  const m = buildModule(() => new Block(d, h, s, { dropout: 0.1, seed: 5, dtype: weights }));
  const leaf = randn([b, s, d], { seed: 9, requiresGrad: true, dtype: weights });
  const columns = scope(() => {
    const x = ops.add(leaf, 0);
    return bytesByColumn(autocast(dtype, () => measureForward(() => m.forward(x))).entries);
  });
  noGrad(() => m.dispose());
  leaf.dispose();
  return columns;
}
const PRECISION_ROWS: { precision: TrainingPrecision; table7: Precision }[] = [
  { precision: 'fp32', table7: 'fp32' }, { precision: 'fp16', table7: 'fp16' }, { precision: 'bf16', table7: 'fp16' }, { precision: 'autocast-bf16', table7: 'bf16-autocast' },
];
const byPrecision = new Map(PRECISION_ROWS.map((r) => [r.precision, blockColumns(r.precision)]));
const why16: Record<string, string> = {
  'attention LN': 'LN input: 2 B in fp16/bf16; autocast: float32 (the residual stream stays float32)',
  'QKV input': 'fp16/bf16: one shared copy; autocast: q, k and v each cast the float32 LN output (one 16-bit copy per op, as F.linear under torch.autocast) — 3× Table 7\'s 2·bsd, which assumes one fused QKV input',
  QKV: 'Q, K, V in 16 bits in all three 16-bit columns',
  softmax: 'autocast: softmax runs and saves in float32',
  'attention dropout mask': 'not stored: regenerated from (seed, offset) in backward',
  'matmul V': 'the dropped probabilities; autocast: their 16-bit copy (P·V is a matmul)',
  'output input': '16-bit in all three (the attention output comes out of a 16-bit matmul)',
  'output dropout mask': 'not stored (regenerated)',
  'MLP LN': 'autocast: float32 (x + attn promotes to float32)',
  'up input': 'autocast: up casts the float32 LN output to 16 bits',
  'GELU input': 'up\'s 16-bit output, 8·bsd; Table 7\'s autocast cell is printed "5sd" (unit lost), its FP32 cell 64·bsd is 4× too large',
  'down input': 'the GELU output, 16-bit',
  'MLP dropout mask': 'not stored (regenerated)',
};
say('### 2b. The block in every precision, per op, next to Table 7\'s row (measured, not scaled)');
say();
say('The block of section 2 (dropout 0.1), built with its weights in each precision\'s dtype and run under its autocast (src/memory/precision.ts),');
say('forward only; each column is `measureSaved`\'s bytes sorted into Table 7\'s columns. "T7" is the paper\'s printed cell of that row:');
say('FP32 for fp32, FP16 for pure float16 and pure bfloat16 (both 2 bytes per element), Autocast-BF16 for autocast-bf16.');
say('Pure bf16/fp16 run on the CPU through 16-bit storage with float32 arithmetic (src/backends/half-precision.ts).');
say();
say('| column | fp32 T7 | fp32 | fp16 T7 | fp16 | bf16 | autocast T7 | autocast-bf16 | why they differ |');
say('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
const unitOf = (c: number) => (expectedCell('fp32', c).bhss ? 'bhs²' : 'bsd');
TABLE7_COLUMNS.forEach((c, i) => {
  const cells = PRECISION_ROWS.map((r) => coef(byPrecision.get(r.precision)!.get(c)!, unitOf(i)));
  const t7 = (p: Precision) => fmtCell(TABLE7[p].columns[i]!).replace('bhss', 'bhs²');
  say(`| ${c} | ${t7('fp32')} | ${cells[0]} | ${t7('fp16')} | ${cells[1]} | ${cells[2]} | ${t7('bf16-autocast')} | ${cells[3]} | ${why16[c]} |`);
});
for (const [row, unit, text] of [[LN_STATS, 'bs', 'mean and rstd of both LayerNorms: float32 in every precision (16·bs)'],
  [WEIGHT_COPIES, 'bsd', `autocast only: each linear keeps the 16-bit W it ran with (24·d² = ${24 * d * d} bytes) and ·1/√dh its 2-byte scale`], [OTHER, 'bs', 'nothing else']] as const) {
  const cells = PRECISION_ROWS.map((r) => byPrecision.get(r.precision)!.get(row)!);
  say(`| ${row} | – | ${cells[0]} B | – | ${cells[1]} B | ${cells[2]} B | – | ${cells[3]} B | ${text}${unit === 'bs' && cells[0] ? ` (${coef(cells[0], 'bs')} in fp32)` : ''} |`);
}
const totals = PRECISION_ROWS.map((r) => [...byPrecision.get(r.precision)!.values()].reduce((a, x) => a + x, 0));
say(`| **total bytes** | ${cell(TABLE7.fp32.printedSum)} | ${totals[0]} | ${cell(TABLE7.fp16.printedSum)} | ${totals[1]} | ${totals[2]} | ${cell(TABLE7['bf16-autocast'].printedSum)} | ${totals[3]} | |`);
say();
const ac = byPrecision.get('autocast-bf16')!, f16 = byPrecision.get('fp16')!;
const activations = (cols: Map<string, number>) => [...cols.entries()].filter(([k]) => k !== WEIGHT_COPIES && k !== LN_STATS).reduce((a, [, v]) => a + v, 0);
say(`Per precision, the measured activations (without LN statistics and weight copies) by hand: fp32 64·bsd + 8·bhs² = ${64 * bsd + 8 * bhss} (measured ${activations(byPrecision.get('fp32')!)});`);
say(`fp16 and bf16 32·bsd + 4·bhs² = ${32 * bsd + 4 * bhss} (measured ${activations(f16)} and ${activations(byPrecision.get('bf16')!)}); autocast-bf16 40·bsd + 6·bhs² = ${40 * bsd + 6 * bhss}`);
say(`(measured ${activations(ac)}): the LN inputs and the softmax output stay float32 (+2·bsd, +2·bsd, +2·bhs² over fp16), q, k and v keep three`);
say('input copies (+4·bsd), the masks are not stored; its weight copies add the row above.');
say();

// ---------------------------------------------------------------- 3. the block per method against methodMemory
say('### 3. The block per method against the per-layer analytic model');
say();
say(`The same block (dropout 0.1), adapters of rank 8 on q, k, v, o, up, down; "analytic" is one layer of \`methodMemory\``);
say('(src/memory, float32, with dropout masks at 1 byte). measured − analytic should be the LN statistics (16·bs) minus the masks the engine does not store (2·bsd + bhs²).');
say();
say('| method | measured | analytic (one layer) | measured − analytic | explained |');
say('| --- | ---: | ---: | ---: | :---: |');
const tcfg = transformerConfig({ vocab: 1, dim: d, heads: h, layers: 1, context: s, dropout: 0.1 });
for (const method of ADAPTER_KINDS) {
  const m = buildModule(() => new Block(d, h, s, { dropout: 0.1, seed: 5 }));
  if (method !== 'full') applyAdapters(m, { method, rank: 8, ...(method === 'vera' ? {} : { alpha: 16 }), seed: 2 });
  const measured = scope(() => {
    const x = ops.add(x0, 0);
    return measureForward(() => m.forward(x)).bytes;
  });
  const analytic = methodMemory(tcfg, method, { batch: b, seq: s, bytes: F32, rank: 8 }).activations;
  const diff = measured - analytic;
  say(`| ${method} | ${measured} | ${analytic} | ${diff} | ${diff === 16 * bs - 2 * bsd - bhss ? 'yes' : '**no**'} |`);
  m.dispose();
}
say();

// ---------------------------------------------------------------- 4. the block with full and selective checkpointing
say('### 4. The same block with activation checkpointing (float32)');
say();
say('The block of section 2 (Full-FT, dropout 0.1) under `Block.checkpoint` none / full / selective (src/autograd/checkpoint.ts), forward and backward');
say('of sum(block(x)) under `profileMemory`: "kept" is what `measureSaved` reports after forward; "peak saved" the most saved bytes live at any op');
say('boundary (backward holds the recomputed tensors again); "peak allocated" the most bytes allocated above the start (the profile\'s peak);');
say('"expected" the hand-derived figure: none 64·bsd + 8·bhs² + 16·bs (section 2), full the input b·s·d·4, selective none − 2·bhs²·4 (the softmax output and');
say(`its dropped copy). ms: median of 5 forward + backward passes, the modes interleaved.`);
say();
say('| checkpointing | kept | expected | = | peak saved | peak allocated | ms (fwd + bwd) |');
say('| --- | ---: | ---: | :---: | ---: | ---: | ---: |');
const MODES: BlockCheckpoint[] = ['none', 'full', 'selective'];
const expectedKept: Record<BlockCheckpoint, number> = { none: 64 * bsd + 8 * bhss + 16 * bs, full: bsd * F32, selective: 64 * bsd + 16 * bs }; // bytes: none less P and its dropped copy (8·bhs²)
const blockStep = (mode: BlockCheckpoint) => {
  block.checkpoint = mode;
  let kept = 0;
  const profile = profileMemory(() => scope(() => {
    const x = ops.add(x0, 0);
    const r = measureSaved(() => block.forward(x));
    kept = r.bytes;
    ops.sum(r.result).backward();
  }));
  block.zeroGrad();
  x0.grad?.dispose();
  x0.grad = null;
  return { kept, profile };
};
const blockMs = new Map(MODES.map((m) => [m, [] as number[]]));
for (let rep = 0; rep < 6; rep++) {
  for (const mode of MODES) {
    const t = performance.now();
    blockStep(mode);
    if (rep > 0) blockMs.get(mode)!.push(performance.now() - t); // the first round warms up
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const mode of MODES) {
  const { kept, profile } = blockStep(mode);
  const peakSaved = Math.max(...profile.events.map((e) => e.savedBytes));
  say(`| ${mode} | ${fmtBytes(kept)} | ${fmtBytes(expectedKept[mode])} | ${kept === expectedKept[mode] ? 'yes' : '**no**'} | ${fmtBytes(peakSaved)} | ${fmtBytes(profile.peak!.event.allocatedBytes)} | ${median(blockMs.get(mode)!).toFixed(1)} |`);
}
say();
say('One block alone gains nothing at its peak: backward recomputes it while the gradients are live. Across L blocks only one is recomputed at a time, which section 5 shows.');
say('Selective recomputation here re-runs the whole block\'s forward (as full does) and keeps only what the policy dropped: while it runs, the');
say('recomputed copies of the kept tensors are allocated again until the recomputation ends, so its peak allocation exceeds the plain block\'s.');
say('Korthikanti et al. re-run only the attention core, which this engine does not do yet.');
noGrad(() => block.dispose());
say();

// ---------------------------------------------------------------- 5. methods on the lab GPT
const base = await loadCheckpoint(BASE_CHECKPOINT);
const gcfg = base.model.config;
base.model.dispose();
const [gb, gs, gr] = [8, 64, 8];
const RUNS: readonly { label: string; kind: 'full' | 'lora' | 'lorafa'; checkpoint: BlockCheckpoint; precision: TrainingPrecision }[] = [
  { label: 'Full-FT', kind: 'full', checkpoint: 'none', precision: 'fp32' },
  { label: 'LoRA', kind: 'lora', checkpoint: 'none', precision: 'fp32' },
  { label: 'LoRA-FA', kind: 'lorafa', checkpoint: 'none', precision: 'fp32' },
  { label: 'LoRA, blocks checkpointed', kind: 'lora', checkpoint: 'full', precision: 'fp32' },
  { label: 'LoRA-FA + selective recomputation', kind: 'lorafa', checkpoint: 'selective', precision: 'fp32' },
  { label: 'LoRA-FA, bf16', kind: 'lorafa', checkpoint: 'none', precision: 'bf16' },
  { label: 'LoRA-FA, autocast-bf16', kind: 'lorafa', checkpoint: 'none', precision: 'autocast-bf16' },
];
say(`### 5. Methods on the lab GPT, with and without checkpointing (float32), and LoRA-FA in bf16 and autocast-bf16`);
say();
say(`The committed base GPT (${JSON.stringify(gcfg)}), b = ${gb}, s = ${gs}, adapters of rank ${gr} (α ${2 * gr}) on q, k, v, o, up, down,`);
say('one AdamW training step (forward, backward, clip 1, AdamW) per row: "saved" is `measureSaved` of the forward (predicted by');
say('`savedBreakdown` over `methodMemory` with the same checkpointing: "= predicted"), "peak" the most bytes allocated above the step\'s start');
say('(`profileMemory`: activations, gradients, AdamW state created on the first step, temporaries), ms/step the median of 5 steps, the runs');
say('interleaved step by step in one process.');
say();
say('| run | saved | = predicted | peak (step 1) | ms/step |');
say('| --- | ---: | :---: | ---: | ---: |');
const ids = base.tokenizer.encode(loadText('finetune'));
const models = await Promise.all(RUNS.map(async (run) => {
  const { model } = await loadCheckpoint(BASE_CHECKPOINT, undefined, PRECISION_DTYPES[run.precision].weights);
  model.autocast = PRECISION_DTYPES[run.precision].autocast;
  if (run.kind !== 'full') applyAdapters(model, { method: run.kind, rank: gr, alpha: 2 * gr, seed: 1 });
  else model.unfreeze();
  model.setCheckpointing(run.checkpoint);
  return { run, model, opt: new AdamW(model.trainableParameters(), { lr: 1e-3 }), sampler: new BatchSampler(ids, gb, gs, 7), ms: [] as number[], saved: 0, profile: null as MemoryProfile | null };
}));
for (let step = 0; step < 6; step++) {
  for (const m of models) {
    const batch = m.sampler.next();
    const t = performance.now();
    const r = await trainStep(m.model, m.opt, batch, { clip: 1, measure: step === 0, profile: step === 1 });
    if (step > 0) m.ms.push(performance.now() - t);
    if (r.saved) m.saved = r.saved.bytes;
    if (r.timeline) m.profile = r.timeline;
    batch.x.dispose();
    batch.y.dispose();
  }
}
for (const m of models) {
  const predicted = savedBreakdown(gcfg, m.run.kind, { batch: gb, seq: gs, rank: gr, checkpoint: m.run.checkpoint, precision: m.run.precision }).expected;
  say(`| ${m.run.label} | ${fmtBytes(m.saved)} | ${m.saved === predicted ? 'yes' : `**no** (${fmtBytes(predicted)})`} | ${fmtBytes(m.profile!.peak!.event.allocatedBytes)} | ${median(m.ms).toFixed(0)} |`);
}
say();
say('ms/step includes the profiled step 1 (profiling samples at each op: a few percent). Checkpointing costs one more forward of each block in backward.');
say('The bf16 rows run on the CPU through 16-bit storage with float32 arithmetic and a conversion at every kernel call (src/backends/half-precision.ts,');
say('not yet fast): their ms/step measure that wrapper, not 16-bit arithmetic. autocast-bf16 keeps 16-bit copies of every weight its linears');
say('use (the head\'s too), which is why its saved bytes exceed pure bf16\'s.');
say();

// ---------------------------------------------------------------- 6. the memory timeline of one step per run
const timelines = models.map((m) => ({ label: m.run.label, profile: m.profile! }));
const svgPath = new URL('../docs/memory-timeline.svg', import.meta.url);
await writeFileAtomic(fileURLToPath(svgPath), await renderSvg(memoryTimelineChart(timelines, `One training step of the lab GPT per run (b ${gb}, s ${gs}, r ${gr}; float32 unless named)`)));
say('### 6. The memory timeline of one step per run');
say();
say('Step 1 of each run of section 5 under `profileMemory`, drawn as a stacked area over op index (saved for backward, everything else),');
say('backward marked, the peak labelled with its op: [docs/memory-timeline.svg](../docs/memory-timeline.svg). Peaks:');
say();
for (const { label, profile } of timelines) {
  const p = profile.peak!;
  const top = p.holders.slice(0, 2).map((h) => `${h.module || '(top)'} ${h.op} ${fmtBytes(h.bytes)}`).join(', ');
  say(`- ${label}: ${fmtBytes(p.event.allocatedBytes)} after ${p.event.phase} ${p.event.op}${p.event.module ? ` (${p.event.module})` : ''}, op ${p.event.index} of ${profile.events.length}; saved ${fmtBytes(p.event.savedBytes)} (largest: ${top}), other ${fmtBytes(p.otherBytes)}.`);
}
for (const m of models) {
  m.opt.dispose();
  m.model.dispose();
}
say();

// ---------------------------------------------------------------- 7. sweeps: rank and adapted linears
/** Saved bytes of a forward of the lab GPT (b gb, s gs) with adapters of a kind, rank and targets, and the prediction. */
async function gptSaved(kind: 'full' | 'lora' | 'lorafa', rank: number, targets: readonly string[], precision: TrainingPrecision = 'fp32') {
  const { model } = await loadCheckpoint(BASE_CHECKPOINT, undefined, PRECISION_DTYPES[precision].weights);
  model.autocast = PRECISION_DTYPES[precision].autocast;
  if (kind === 'full') model.unfreeze();
  else if (targets.length) applyAdapters(model, { method: kind, rank, alpha: 2 * rank, seed: 1, targets: [...targets] });
  else model.freeze(); // no adapter: the base frozen, nothing trains
  const batch = new BatchSampler(ids, gb, gs, 7).next();
  const measured = measureForward(() => model.loss(batch.x, batch.y)).bytes;
  for (const t of [batch.x, batch.y]) t.dispose();
  model.dispose();
  return { measured, predicted: savedBreakdown(gcfg, kind, { batch: gb, seq: gs, rank, targets, precision }).expected };
}
const mark = (r: { measured: number; predicted: number } | string) => (typeof r === 'string' ? r : `${fmtBytes(r.measured)}${r.measured === r.predicted ? '' : ` **≠ ${fmtBytes(r.predicted)}**`}`);
/** LoRA-FA refuses an A whose AᵀA is too ill-conditioned for the dtype's ε (src/lora/gram.ts: cond > 0.1/ε): a cell says so. */
const orRefused = (f: () => Promise<{ measured: number; predicted: number }>, dtype: string) => f().catch((e: Error) => {
  if (!/ill-conditioned/.test(e.message)) throw e;
  return `refused: AᵀA ill-conditioned in ${dtype}`;
});
const ALL = ['q', 'k', 'v', 'o', 'up', 'down'] as const;
say('### 7. Sweeps on the lab GPT: rank, and the number of adapted linears');
say();
say(`The lab GPT of section 5 (b = ${gb}, s = ${gs}), forward only: \`measureSaved\` bytes of \`model.loss\`, every cell equal to \`savedBreakdown\`'s`);
say('prediction unless marked ≠. Rank (all six linears adapted, float32 and bf16): LoRA keeps X for each adapted linear, LoRA-FA only XA, so');
say('LoRA-FA grows by L·6·N·r·bytes per unit of rank while LoRA starts from the inputs. LoRA-FA in bf16 refuses a random A [d, r] once');
say('cond(AᵀA) ≈ ((1 + √(r/d))/(1 − √(r/d)))² exceeds 0.1/ε = 12.8 for bfloat16 (src/lora/gram.ts): its corrected gradient would have no correct digit;');
say(`at r = d = ${gcfg.dim} a random square A is refused in float32 too. The lab GPT's width d = ${gcfg.dim} caps the rank (r ≤ min(d, o)), so the sweep stops at ${Math.min(gcfg.dim, 128)}.`);
say();
say('| r | LoRA fp32 | LoRA-FA fp32 | LoRA bf16 | LoRA-FA bf16 | LoRA-FA / LoRA (fp32) |');
say('| ---: | ---: | ---: | ---: | ---: | ---: |');
const maxRank = Math.min(gcfg.dim, 128);
for (const r of [1, 2, 4, 8, 16, 32, 64, 128].filter((x) => x <= maxRank)) {
  const [l32, fa32, l16, fa16] = [await gptSaved('lora', r, ALL), await orRefused(() => gptSaved('lorafa', r, ALL), 'fp32'), await gptSaved('lora', r, ALL, 'bf16'), await orRefused(() => gptSaved('lorafa', r, ALL, 'bf16'), 'bf16')];
  say(`| ${r} | ${mark(l32)} | ${mark(fa32)} | ${mark(l16)} | ${mark(fa16)} | ${typeof fa32 === 'string' ? '–' : (fa32.measured / l32.measured).toFixed(3)} |`);
}
say();
say(`Adapted linears (rank ${gr}, float32; Figure 4(b) in kind: memory against how many linears carry adapters), added in the order`);
say(`${ALL.join(', ')}; Full-FT for reference: ${mark(await gptSaved('full', gr, ALL))}.`);
say();
say('| adapted | LoRA | LoRA-FA | LoRA − LoRA-FA |');
say('| --- | ---: | ---: | ---: |');
for (let n = 0; n <= ALL.length; n++) {
  const targets = ALL.slice(0, n);
  const [lora, fa] = [await gptSaved('lora', gr, targets), await gptSaved('lorafa', gr, targets)];
  say(`| ${n ? targets.join(', ') : 'none'} | ${mark(lora)} | ${mark(fa)} | ${fmtBytes(lora.measured - fa.measured)} |`);
}
say();
say('With no adapter nothing needs a gradient and nothing is saved. The timeline of one step per method is section 6\'s chart.');
say();
say(`(${((performance.now() - t0) / 1000).toFixed(0)} s on ${process.platform}, Node ${process.version}, load: ${loadavg().map((l) => l.toFixed(2)).join(' ')}.)`);

// ---------------------------------------------------------------- RESULTS.md
console.log(`\nupdated the memory section of ${writeSection('memory', out.join('\n'))}`);
