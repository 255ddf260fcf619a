/** The `npm run verify` table: claim | cases | max error | tolerance | holds, then the statements and any counterexample. */
import type { ClaimResult } from './run.ts';

function fmt(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  return Math.abs(x) >= 1e-2 && Math.abs(x) < 1e4 ? String(Number(x.toPrecision(3))) : x.toExponential(1);
}

/** A plain-text table with a header rule, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function claimTable(results: ClaimResult[]): string {
  const rows = results.map((r) => [
    r.claim.id,
    `${r.cases}${r.refused ? ` (${r.refused} refused)` : ''}`,
    r.worst ? `${fmt(r.worst.error)} ${r.claim.unit}` : '-',
    r.worst ? fmt(r.worst.tolerance) : '-',
    r.holds ? 'yes' : 'NO',
  ]);
  return table(['claim', 'cases', 'max error', 'tolerance', 'holds'], rows);
}

/** One line per distinct statement (a claim checked in two dtypes is listed once, with both ids). */
export function statements(results: ClaimResult[]): string {
  const ids = new Map<string, string[]>();
  for (const r of results) ids.set(r.claim.title, [...(ids.get(r.claim.title) ?? []), r.claim.id]);
  const name = (list: string[]) => {
    const [prefix, ...rest] = list.map((id) => id.split(' · '));
    const shared = list.length > 1 && rest.every((p) => p[0] === prefix![0]);
    return shared ? `${prefix![0]} (${list.map((id) => id.split(' · ')[1]).join(', ')})` : list.join(', ');
  };
  return [...ids].map(([title, list]) => `  ${name(list)}: ${title}`).join('\n');
}

export function counterexamples(results: ClaimResult[]): string {
  return results
    .filter((r) => r.counterexample)
    .map((r) => {
      const c = r.counterexample!;
      return `counterexample for '${r.claim.id}' (seed ${r.seed}, shrunk ${c.shrinks} times):\n` +
        `  case    ${JSON.stringify(c.value)}\n` +
        `  error   ${fmt(c.outcome.error)} ${r.claim.unit} > tolerance ${fmt(c.outcome.tolerance)}` +
        (c.outcome.note ? `\n  detail  ${c.outcome.note}` : '');
    })
    .join('\n\n');
}
