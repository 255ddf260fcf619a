/**
 * Sorts what one transformer block saves (measureSaved entries) into the per-op columns of the
 * paper's Table 7 (Korthikanti et al.'s accounting), so each column can be compared with the
 * printed table and with bytes-per-element × the tensor it stores.
 */
import { measureSaved, type SavedEntry, type SavedReport } from '../autograd/saved.ts';
import { scope } from '../autograd/scope.ts';
import type { Tensor } from '../tensor.ts';
import { TABLE7_COLUMNS } from './table7.ts';

/** Extra rows for what Table 7 does not list. */
export const LN_STATS = 'LayerNorm mean and rstd (not in Table 7)';
export const OTHER = 'other';
export const WEIGHT_COPIES = 'autocast: 16-bit weight copies (not in Table 7)';

/**
 * The Table 7 column of each entry of a Block's forward (measureSaved entries, in save order),
 * from its module path (relative to the block) and op; autocast's copies of weights are a row of their own. q, k and v save one input storage: k's
 * and v's entries add 0 bytes.
 *
 * The attention core's two matmuls both save [.., s, ·] tensors, and when s = dh = d/h their
 * shapes cannot tell P̃ (the probabilities after dropout, the input of P̃·V: 'matmul V') from
 * Q, K and V ('QKV'); the save order can (entries of one forward per attention module):
 *   Q·Kᵀ saves Q (when K needs a gradient) and K (when Q does) — before softmax saves P;
 *   P̃·V  saves P̃ (when V needs a gradient), then V (when P does) — matmul saves a before b.
 * P needs a gradient exactly when softmax saved its output; so after the softmax entry, the
 * last matmul entry is V and a first one of two is P̃. With no softmax entry (Q and K need no
 * gradient), nothing of Q·Kᵀ or V is saved, and every matmul entry is P̃.
 */
export function table7Columns(entries: readonly SavedEntry[], blockPrefix = ''): string[] {
  const relative = (e: SavedEntry) => (e.module.startsWith(blockPrefix) ? e.module.slice(blockPrefix.length) : e.module);
  const attention = attentionColumns(entries.map((e, i) => [e, i] as const).filter(([e]) => relative(e) === 'attn'));
  return entries.map((e, i) => {
    if (e.weightCopy) return WEIGHT_COPIES;
    switch (relative(e)) {
      case 'ln1':
        return e.shape.length === 1 ? LN_STATS : 'attention LN';
      case 'ln2':
        return e.shape.length === 1 ? LN_STATS : 'MLP LN';
      case 'attn.q': case 'attn.k': case 'attn.v':
        return 'QKV input';
      case 'attn':
        return attention.get(i) ?? OTHER;
      case 'attn.o':
        return 'output input';
      case 'mlp.up':
        return 'up input';
      case 'mlp':
        return e.op === 'gelu' ? 'GELU input' : OTHER;
      case 'mlp.down':
        return 'down input';
      default:
        return OTHER;
    }
  });
}

/** The columns of the attention core's softmax and matmul entries (index → column), by save order. */
function attentionColumns(attn: (readonly [SavedEntry, number])[]): Map<number, string> {
  const out = new Map<number, string>();
  const softmaxAt = attn.findIndex(([e]) => e.op === 'softmax');
  if (softmaxAt >= 0) out.set(attn[softmaxAt]![1], 'softmax');
  const matmuls = attn.filter(([e]) => e.op === 'matmul').map(([, i]) => i);
  if (softmaxAt < 0) {
    for (const i of matmuls) out.set(i, 'matmul V');
    return out;
  }
  const after = matmuls.filter((i) => i > attn[softmaxAt]![1]);
  for (const i of matmuls) out.set(i, 'QKV');
  if (after.length === 2) out.set(after[0]!, 'matmul V');
  return out;
}

/** Bytes per Table 7 column (all 13, in order, then LN statistics and anything else). */
export function bytesByColumn(entries: readonly SavedEntry[], blockPrefix = ''): Map<string, number> {
  const out = new Map<string, number>([...TABLE7_COLUMNS, LN_STATS, WEIGHT_COPIES, OTHER].map((c) => [c, 0]));
  const columns = table7Columns(entries, blockPrefix);
  entries.forEach((e, i) => out.set(columns[i]!, out.get(columns[i]!)! + e.bytes));
  return out;
}

/**
 * What forward() saves, measured without running backward. Its output and intermediates are
 * disposed by a scope, and a graph whose tensors are all disposed releases its saved tensors
 * (src/autograd/function.ts), so a later measurement starts from zero instead of finding the
 * same storage already saved.
 */
export function measureForward(forward: () => Tensor): Omit<SavedReport, 'result'> {
  return scope(() => {
    const { result: _, ...report } = measureSaved(forward);
    return report;
  });
}
