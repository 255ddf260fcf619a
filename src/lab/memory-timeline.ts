import type { TopLevelSpec } from 'vega-lite';
import type { MemoryProfile } from '../autograd/profile.ts';
import { fmtBytes } from '../memory/format.ts';

/**
 * The memory timeline of one training step per run, as PyTorch's memory snapshot view: one row
 * per run, op index on x, a stacked area of the bytes allocated above the step's start — what
 * autograd saved for backward, and everything else (outputs not saved, gradients, temporaries) —
 * a rule where backward begins, and the peak marked (each row's title names its op and module).
 * Render with renderSvg (charts.ts).
 */
export function memoryTimelineChart(runs: readonly { label: string; profile: MemoryProfile }[], title: string): TopLevelSpec {
  const layers = ['saved for backward', 'other allocations'];
  // each row is titled with its run and its peak (a label inside the plot would run past its edges)
  const rowTitle = ({ label, profile }: { label: string; profile: MemoryProfile }) => {
    const at = profile.peak?.event;
    return at ? `${label} — peak ${fmtBytes(at.allocatedBytes)} after ${at.phase} ${at.op}${at.module ? ` (${at.module})` : ''}, op ${at.index}` : label;
  };
  const areas = runs.flatMap((r) => r.profile.events.flatMap((e) => [
    { run: rowTitle(r), mark: 'area', index: e.index, layer: layers[0], order: 0, mib: e.savedBytes / 2 ** 20, phase: e.phase, op: e.op, module: e.module || '(top)' },
    // saved tensors made before the step (its inputs) are counted as saved only, never below 0 in the rest
    { run: rowTitle(r), mark: 'area', index: e.index, layer: layers[1], order: 1, mib: Math.max(0, e.allocatedBytes - e.savedBytes) / 2 ** 20, phase: e.phase, op: e.op, module: e.module || '(top)' },
  ]));
  const markers = runs.flatMap((r) => {
    const rows: Record<string, unknown>[] = [];
    const backward = r.profile.events.find((e) => e.phase === 'backward');
    if (backward) rows.push({ run: rowTitle(r), mark: 'rule', index: backward.index, text: 'backward →' });
    const at = r.profile.peak?.event;
    if (at) rows.push({ run: rowTitle(r), mark: 'peak', index: at.index, mib: at.allocatedBytes / 2 ** 20 });
    return rows;
  });
  const x = { field: 'index', type: 'quantitative', title: 'op index (forward, backward with any recomputation, optimizer)' } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: [...areas, ...markers] },
    facet: { row: { field: 'run', type: 'nominal', title: null, sort: runs.map(rowTitle), header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelFontWeight: 'bold', labelLimit: 560 } } },
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: 560,
      height: 110,
      layer: [
        {
          transform: [{ filter: "datum.mark === 'area'" }],
          mark: { type: 'area', interpolate: 'step-after' },
          encoding: {
            x,
            y: { field: 'mib', type: 'quantitative', title: 'MiB above the start', stack: 'zero' },
            color: { field: 'layer', type: 'nominal', title: null, sort: layers, legend: { orient: 'bottom' } },
            order: { field: 'order', type: 'quantitative' },
            tooltip: [{ field: 'phase' }, { field: 'op' }, { field: 'module' }, { field: 'layer' }, { field: 'mib', format: '.3f' }],
          },
        },
        {
          transform: [{ filter: "datum.mark === 'rule'" }],
          mark: { type: 'rule', strokeDash: [4, 3], color: '#444' },
          encoding: { x },
        },
        {
          transform: [{ filter: "datum.mark === 'rule'" }],
          mark: { type: 'text', align: 'left', dx: 3, baseline: 'top', y: 2, fontSize: 10 },
          encoding: { x, text: { field: 'text' } },
        },
        {
          transform: [{ filter: "datum.mark === 'peak'" }],
          mark: { type: 'point', shape: 'triangle-down', filled: true, color: '#c00', size: 60 },
          encoding: { x, y: { field: 'mib', type: 'quantitative' } },
        },
      ],
    },
  };
}
