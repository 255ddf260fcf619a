/**
 * Sorts what one transformer block saves (measureSaved entries) into the per-op columns of the
 * paper's Table 7 (Korthikanti et al.'s accounting), so each column can be compared with the
 * printed table and with bytes-per-element × the tensor it stores.
 */
import type { Context } from '../autograd/function.ts';
import { measureSaved, type SavedEntry, type SavedReport } from '../autograd/saved.ts';
import { scope } from '../autograd/scope.ts';
import type { Tensor } from '../tensor.ts';
import { TABLE7_COLUMNS } from '../memory/table7.ts';

/** Extra rows for what Table 7 does not list. */
export const LN_STATS = 'LayerNorm mean and rstd (not in Table 7)';
export const OTHER = 'other';

/**
 * The Table 7 column an entry of a Block belongs to, from its module path (relative to the
 * block) and op, and for the attention core from its shape ([.., s, s] probabilities versus
 * [.., s, dh] Q, K, V). q, k and v save one input storage: k's and v's entries add 0 bytes.
 */
export function table7Column(entry: SavedEntry, blockPrefix: string): string {
  const module = entry.module.startsWith(blockPrefix) ? entry.module.slice(blockPrefix.length) : entry.module;
  const square = entry.shape.length >= 2 && entry.shape[entry.shape.length - 1] === entry.shape[entry.shape.length - 2];
  switch (module) {
    case 'ln1':
      return entry.shape.length === 1 ? LN_STATS : 'attention LN';
    case 'ln2':
      return entry.shape.length === 1 ? LN_STATS : 'MLP LN';
    case 'attn.q': case 'attn.k': case 'attn.v':
      return 'QKV input';
    case 'attn':
      if (entry.op === 'softmax') return 'softmax';
      if (entry.op === 'matmul') return square ? 'matmul V' : 'QKV';
      return OTHER;
    case 'attn.o':
      return 'output input';
    case 'mlp.up':
      return 'up input';
    case 'mlp':
      return entry.op === 'gelu' ? 'GELU input' : OTHER;
    case 'mlp.down':
      return 'down input';
    default:
      return OTHER;
  }
}

/** Bytes per Table 7 column (all 13, in order, then LN statistics and anything else). */
export function bytesByColumn(entries: readonly SavedEntry[], blockPrefix = ''): Map<string, number> {
  const out = new Map<string, number>([...TABLE7_COLUMNS, LN_STATS, OTHER].map((c) => [c, 0]));
  for (const e of entries) {
    const c = table7Column(e, blockPrefix);
    out.set(c, out.get(c)! + e.bytes);
  }
  return out;
}

/**
 * What forward() saves, measured without running backward: the graph of its output is then
 * released (every context's saved tensors freed), so a later measurement starts from zero
 * instead of finding the same storage already saved. Intermediates are freed by a scope.
 */
export function measureForward(forward: () => Tensor): Omit<SavedReport, 'result'> {
  return scope(() => {
    const { result, ...report } = measureSaved(forward);
    const seen = new Set<Context>();
    const stack = result.gradFn ? [result.gradFn] : [];
    while (stack.length) {
      const ctx = stack.pop()!;
      if (seen.has(ctx)) continue;
      seen.add(ctx);
      ctx.release();
      for (const e of ctx.edges) if (e && 'gradFn' in e) stack.push(e.gradFn);
    }
    return report;
  });
}
