/**
 * The paper's Table 7 (Appendix C.2): activation bytes per transformer layer for Full-FT, per op,
 * in three precisions, as coefficients of b·s·d and b·h·s². The printed text lost nothing here
 * except one unit (the Autocast-BF16 GELU cell reads "5sd"), so the table is transcribed as printed
 * and audited: does each printed row sum equal the sum of its own columns, and does each cell
 * agree with bytes-per-element × the tensor it stores (Korthikanti et al. 2023)?
 */

export type Precision = 'fp32' | 'fp16' | 'bf16-autocast';

/** A cell: bytes = bsd·(b·s·d) + bhss·(b·h·s²); `unit` keeps a cell printed without b (e.g. "5sd"). */
export interface Cell {
  bsd: number;
  bhss: number;
  unit?: 'sd';
}

export const TABLE7_COLUMNS = [
  'attention LN', 'QKV input', 'QKV', 'softmax', 'attention dropout mask', 'matmul V', 'output input', 'output dropout mask',
  'MLP LN', 'up input', 'GELU input', 'down input', 'MLP dropout mask',
] as const;

const c = (bsd: number, bhss = 0, unit?: 'sd'): Cell => (unit ? { bsd, bhss, unit } : { bsd, bhss });

/** As printed: 13 columns and the printed row sum. */
export const TABLE7: Record<Precision, { columns: Cell[]; printedSum: Cell }> = {
  fp32: {
    columns: [c(4), c(4), c(12), c(0, 4), c(0, 1), c(0, 4), c(4), c(1), c(4), c(4), c(64), c(16), c(1)],
    printedSum: c(114, 9),
  },
  fp16: {
    columns: [c(2), c(2), c(6), c(0, 2), c(0, 1), c(0, 2), c(2), c(1), c(2), c(2), c(8), c(8), c(1)],
    printedSum: c(58, 5),
  },
  'bf16-autocast': {
    columns: [c(4), c(2), c(6), c(0, 4), c(0, 1), c(0, 2), c(2), c(1), c(4), c(2), c(5, 0, 'sd'), c(8), c(1)],
    printedSum: c(86, 7),
  },
};

/**
 * What each column stores (elements per b·s·d or b·h·s², MLP width 4d) and its bytes per element in a
 * precision; dropout masks are 1 byte. In autocast, LayerNorm and softmax run in fp32 and matmul
 * inputs are cast to 16 bits. Korthikanti et al.'s 16-bit total is 34·bsd + 5·bhs².
 */
const STORED: { bsd: number; bhss: number; bytes: Record<Precision, number> }[] = [
  { bsd: 1, bhss: 0, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 4 } }, // LN input
  { bsd: 1, bhss: 0, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 2 } }, // QKV input
  { bsd: 3, bhss: 0, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 2 } }, // Q, K (for QKᵀ) and V (for probs·V)
  { bsd: 0, bhss: 1, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 4 } }, // softmax output
  { bsd: 0, bhss: 1, bytes: { fp32: 1, fp16: 1, 'bf16-autocast': 1 } }, // dropout mask
  { bsd: 0, bhss: 1, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 2 } }, // dropped probabilities (input of ·V)
  { bsd: 1, bhss: 0, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 2 } }, // output projection input
  { bsd: 1, bhss: 0, bytes: { fp32: 1, fp16: 1, 'bf16-autocast': 1 } }, // dropout mask
  { bsd: 1, bhss: 0, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 4 } }, // LN input
  { bsd: 1, bhss: 0, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 2 } }, // up input
  { bsd: 4, bhss: 0, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 2 } }, // GELU input (4d wide)
  { bsd: 4, bhss: 0, bytes: { fp32: 4, fp16: 2, 'bf16-autocast': 2 } }, // down input (4d wide)
  { bsd: 1, bhss: 0, bytes: { fp32: 1, fp16: 1, 'bf16-autocast': 1 } }, // dropout mask
];

export function expectedCell(precision: Precision, column: number): Cell {
  const s = STORED[column]!;
  return c(s.bsd * s.bytes[precision], s.bhss * s.bytes[precision]);
}

export function sumCells(cells: Cell[]): Cell {
  return cells.reduce((acc, x) => c(acc.bsd + (x.unit ? 0 : x.bsd), acc.bhss + x.bhss), c(0));
}

export function fmtCell(x: Cell): string {
  const parts = [x.bsd ? `${x.bsd}${x.unit ?? 'bsd'}` : '', x.bhss ? `${x.bhss}bhss` : ''].filter(Boolean);
  return parts.join('+') || '0';
}

export interface Table7Audit {
  precision: Precision;
  printedSum: string;
  /** The sum of the row's own printed cells (a cell with a lost unit is left out and named). */
  columnsSum: string;
  printedSumMatchesColumns: boolean;
  /** Cells that disagree with bytes-per-element × stored tensor. */
  wrongCells: { column: string; printed: string; expected: string }[];
  /** The row recomputed from what each column stores. */
  recomputedSum: string;
}

/** Recomputes every row of Table 7 (or of a table laid out like it) from its own columns and from first principles. */
export function auditTable7(table: Record<Precision, { columns: Cell[]; printedSum: Cell }> = TABLE7): Table7Audit[] {
  return (Object.keys(table) as Precision[]).map((precision) => {
    const row = table[precision];
    const own = sumCells(row.columns);
    const lost = row.columns.flatMap((x, i) => (x.unit ? [`${TABLE7_COLUMNS[i]} = ${fmtCell(x)}`] : []));
    const wrongCells = row.columns.flatMap((x, i) => {
      const e = expectedCell(precision, i);
      return x.bsd === e.bsd && x.bhss === e.bhss && !x.unit ? [] : [{ column: TABLE7_COLUMNS[i], printed: fmtCell(x), expected: fmtCell(e) }];
    });
    return {
      precision,
      printedSum: fmtCell(row.printedSum),
      columnsSum: fmtCell(own) + (lost.length ? ` (+ ${lost.join(', ')}, unit lost)` : ''),
      printedSumMatchesColumns: !lost.length && own.bsd === row.printedSum.bsd && own.bhss === row.printedSum.bhss,
      wrongCells,
      recomputedSum: fmtCell(sumCells(row.columns.map((_, i) => expectedCell(precision, i)))),
    };
  });
}
