/**
 * The memory part of `npm run verify`: the paper's Table 7 audited row by row, and the
 * Appendix C figure ("LoRA-FA saves at least 18 GB of activations vs LoRA on Llama2-7B") made
 * from its accounting. Both come from src/memory/model.ts; this file only words the verdicts.
 */
import { appendixC, auditTable7 } from '../memory/model.ts';
import { table } from './report.ts';

export function table7Report(): string {
  const rows = auditTable7().map((a) => [
    a.precision,
    a.printedSum,
    a.columnsSum,
    a.printedSumMatchesColumns ? 'yes' : 'NO',
    a.recomputedSum,
    a.wrongCells.map((w) => `${w.column}: printed ${w.printed}, stores ${w.expected}`).join('; ') || '-',
  ]);
  return 'Paper Table 7 (Full-FT activation bytes per layer): does each printed row sum equal the sum of its own columns?\n' +
    table(['precision', 'printed sum', 'sum of its columns', 'agree', 'recomputed', 'cells that disagree with what they store'], rows);
}

const GB = 1e9;

export function appendixCReport(): string {
  const c = appendixC();
  const own = c.ownCopies / GB, shared = c.sharedInputs / GB;
  return [
    'Appendix C: "LoRA-FA saves at least 18 GB of activations versus LoRA" (Llama2-7B, b = 8, s = 1024, 16-bit)',
    ...c.accounting.map((line) => `  ${line}`),
    `  verdict: ${own.toFixed(2)} GB ${own >= 18 ? '≥' : '<'} 18 GB when each adapted linear keeps its own copy of its input ` +
      `(${own >= 18 ? 'holds' : 'does NOT hold'}); with shared inputs the saving is ${shared.toFixed(2)} GB ` +
      `(${shared >= 18 ? 'still holds' : 'the claim does not hold'}).`,
  ].join('\n');
}
