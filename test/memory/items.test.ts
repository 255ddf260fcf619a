/**
 * What the memory model reports, item by item — the names, element counts and bytes the lab's report,
 * `lorafa calc` and `npm run verify` print — and the helpers that format and audit them.
 */
import { describe, expect, it } from 'vitest';
import { fmtBytes } from '../../src/memory/format.ts';
import { adapterTrainable } from '../../src/memory/adapters.ts';
import { adapterLayerActivations, appendixC, baseLayerActivations, layerLinears, MODELS, type TransformerConfig } from '../../src/memory/model.ts';
import { auditTable7, fmtCell, TABLE7, type Cell } from '../../src/memory/table7.ts';
import { bytesByColumn, OTHER, table7Columns } from '../../src/memory/table7-columns.ts';

const gelu: TransformerConfig = { name: 'g', layers: 1, hidden: 4, heads: 2, ffn: 16, vocab: 3, mlp: 'gelu', dropout: true, tiedEmbeddings: true };
const swiglu: TransformerConfig = { name: 's', layers: 1, hidden: 4, heads: 2, ffn: 6, vocab: 3, mlp: 'swiglu', kvHidden: 2, dropout: false, tiedEmbeddings: false };
const run = { batch: 2, seq: 3, bytes: 2, rank: 1 }; // N = 6
const rows = (items: { name: string; elements: number; bytes: number }[]) => items.map((i) => [i.name, i.elements, i.bytes]);

describe('layers and items', () => {
  it('the linears of a GELU and of a SwiGLU layer, with the input each reads', () => {
    expect(layerLinears(gelu).map((l) => [l.name, l.in, l.out, l.input])).toEqual([
      ['q', 4, 4, 'attention LN output'], ['k', 4, 4, 'attention LN output'], ['v', 4, 4, 'attention LN output'], ['o', 4, 4, 'attention output'],
      ['up', 4, 16, 'MLP LN output'], ['down', 16, 4, 'MLP activation output'],
    ]);
    expect(layerLinears(swiglu).map((l) => `${l.name} ${l.in}→${l.out}`)).toEqual(['q 4→4', 'k 4→2', 'v 4→2', 'o 4→4', 'gate 4→6', 'up 4→6', 'down 6→4']);
  });

  it('the method-independent tensors of a layer (N = 6, P = h·b·s² = 36)', () => {
    expect(rows(baseLayerActivations(gelu, run))).toEqual([
      ['attention LN input', 24, 48], ['q, k (for QKᵀ)', 48, 96], ['softmax output', 36, 72], ['v (for probs·V)', 24, 48], ['MLP LN input', 24, 48],
      ['attention dropout mask', 36, 36], ['dropped probabilities', 36, 72], ['output dropout mask', 24, 24], ['MLP dropout mask', 24, 24], ['GELU input', 96, 192],
    ]);
    expect(rows(baseLayerActivations(swiglu, run)).slice(1, 4)).toEqual([['q, k (for QKᵀ)', 36, 72], ['softmax output', 36, 72], ['v (for probs·V)', 12, 24]]);
    expect(rows(baseLayerActivations(swiglu, run)).slice(5)).toEqual([['gate output (silu input)', 36, 72], ['silu output', 36, 72], ['up output', 36, 72]]);
  });

  it('what each kind keeps per adapted linear, named (GELU layer, all six adapted)', () => {
    const names = (kind: Parameters<typeof adapterLayerActivations>[1], extra = {}) => rows(adapterLayerActivations(gelu, kind, { ...run, ...extra }));
    expect(names('full')).toEqual([['input of q, k, v', 24, 48], ['input of o', 24, 48], ['input of up', 24, 48], ['input of down', 96, 192]]);
    expect(names('lorafa')).toEqual(['q', 'k', 'v', 'o', 'up', 'down'].map((n) => [`${n}: XA`, 6, 12]));
    expect(names('lora', { targets: ['k', 'down'] })).toEqual([['input of k', 24, 48], ['k: XA', 6, 12], ['input of down', 96, 192], ['down: XA', 6, 12]]);
    expect(names('lora', { targets: ['q', 'v'], peftDropout: true })).toEqual([
      ["q: dropped input (PEFT's own copy)", 24, 48], ['q: dropout mask (PEFT)', 24, 24], ['q: XA', 6, 12],
      ["v: dropped input (PEFT's own copy)", 24, 48], ['v: dropout mask (PEFT)', 24, 24], ['v: XA', 6, 12],
    ]);
    expect(names('dora', { targets: ['up'] })).toEqual([['input of up', 24, 48], ['up: XA', 6, 12], ['up: X·V (DoRA)', 96, 192]]);
    expect(names('vera', { targets: ['o'] })).toEqual([['o: XA', 6, 12], ['o: (XA ⊙ d)·B (VeRA)', 24, 48]]);
    expect(names('lorafb', { targets: ['o'] })).toEqual([['input of o', 24, 48]]);
  });

  it('Full-FT trains d·o per linear', () => {
    expect(adapterTrainable('full', { d: 6, o: 4, r: 2 })).toBe(24);
  });

  it('the Appendix C accounting, line by line', () => {
    expect(appendixC().accounting).toEqual([
      'Llama2-7B: L = 32, d = 4096, MLP width 11008; b = 8, s = 1024, 2 bytes per element',
      'input widths of the adapted linears per layer: q 4096, k 4096, v 4096, o 4096, gate 4096, up 4096, down 11008 → Σ = 35584',
      "own copies (e.g. PEFT's LoRA dropout: a dropped copy per adapter): L·b·s·Σ·bytes = 32·8192·35584·2 = 18656264192 bytes = 18.66 GB (17.38 GiB)",
      'shared inputs (attention LN output; attention output; MLP LN output; MLP activation output): Σ = 23296 → 12213813248 bytes = 12.21 GB (11.38 GiB)',
    ]);
    expect(appendixC(MODELS['llama3-8b']!, 1, 2, 4).accounting[0]).toBe('Llama3-8B: L = 32, d = 4096, MLP width 14336; b = 1, s = 2, 4 bytes per element');
  });
});

describe('formatting', () => {
  it('bytes in binary units, up to TiB', () => {
    expect([0, 512, 1023, 1024, 3 * 1024, 2.45 * 2 ** 20, 12.63 * 2 ** 30, 2 ** 40, 2 ** 50, -2048].map(fmtBytes)).toEqual(
      ['0 B', '512 B', '1023 B', '1.00 KiB', '3.00 KiB', '2.45 MiB', '12.63 GiB', '1.00 TiB', '1024.00 TiB', '-2.00 KiB']);
  });

  it('Table 7 cells: b·s·d and b·h·s² parts, a lost unit, and zero', () => {
    expect([{ bsd: 3, bhss: 2 }, { bsd: 0, bhss: 4 }, { bsd: 5, bhss: 0 }, { bsd: 5, bhss: 0, unit: 'sd' }, { bsd: 0, bhss: 0 }].map((c) => fmtCell(c as Cell)))
      .toEqual(['3bsd+2bhss', '4bhss', '5bsd', '5sd', '0']);
  });
});

describe('the Table 7 audit on a table with other mistakes', () => {
  it('finds a wrong b·h·s² cell, a row sum off in b·h·s², and names every cell whose unit is lost', () => {
    const fp16 = TABLE7.fp16.columns.map((c) => ({ ...c }));
    fp16[3] = { bsd: 0, bhss: 3 }; //                               softmax: stores 2bhss
    fp16[10] = { bsd: 8, bhss: 0, unit: 'sd' }; //                   GELU input with its unit lost
    fp16[11] = { bsd: 8, bhss: 0, unit: 'sd' }; //                   down input too
    const table = { ...TABLE7, fp16: { columns: fp16, printedSum: { bsd: 34, bhss: 5 } } };
    const audit = auditTable7(table).find((a) => a.precision === 'fp16')!;
    expect(audit.wrongCells).toEqual([
      { column: 'softmax', printed: '3bhss', expected: '2bhss' },
      { column: 'GELU input', printed: '8sd', expected: '8bsd' },
      { column: 'down input', printed: '8sd', expected: '8bsd' },
    ]);
    expect(audit.columnsSum).toBe('18bsd+6bhss (+ GELU input = 8sd, down input = 8sd, unit lost)');
    expect(audit.printedSumMatchesColumns).toBe(false);
    const exact = { ...TABLE7, fp16: { columns: TABLE7.fp16.columns, printedSum: { bsd: 34, bhss: 6 } } };
    expect(auditTable7(exact).find((a) => a.precision === 'fp16')!.printedSumMatchesColumns).toBe(false); // off in b·h·s² only
  });
});

describe('sorting saved entries into Table 7 columns', () => {
  const e = (op: string, module: string) => ({ op, module, shape: [1, 2, 4, 4], dtype: 'float32' as const, bytes: 4, kind: 'activation' as const });

  it('works without a block prefix, and counts anything else of the MLP as other', () => {
    expect(table7Columns([e('matmul', 'attn'), e('gelu', 'mlp'), e('mul', 'mlp')])).toEqual(['matmul V', 'GELU input', OTHER]);
    expect(bytesByColumn([e('matmul', 'attn'), e('gelu', 'mlp')]).get('matmul V')).toBe(4);
  });

  it('softmax first (Q·Kᵀ kept nothing): then P̃ and V', () => {
    expect(table7Columns([e('softmax', 'attn'), e('matmul', 'attn'), e('matmul', 'attn')])).toEqual(['softmax', 'matmul V', 'QKV']);
  });

  it('reads the save order of the attention core only (a matmul elsewhere does not count)', () => {
    expect(table7Columns([e('matmul', 'attn'), e('softmax', 'attn'), e('matmul', 'head'), e('matmul', 'attn'), e('matmul', 'attn')]))
      .toEqual(['QKV', 'softmax', OTHER, 'matmul V', 'QKV']);
  });
});
