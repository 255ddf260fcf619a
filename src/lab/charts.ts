import type { TopLevelSpec } from 'vega-lite';
import type { MethodResult } from './fine-tune.ts';
import { COS_ADAMW, COS_SGD } from './report.ts';
import { mean, sd } from './statistics.ts';
import type { EntryRuns } from './summary.ts';

/**
 * Renders a Vega-Lite spec to an SVG string in Node (no browser, no canvas). The chart libraries
 * are loaded here, when a chart is drawn, so nothing else of lorafa loads them.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Moving mean over a centred window of `width` points (shorter at the ends). */
function smooth(values: number[], width: number): number[] {
  const half = Math.floor(width / 2);
  return values.map((_, i) => {
    const w = values.slice(Math.max(0, i - half), i + half + 1);
    return w.reduce((a, b) => a + b, 0) / w.length;
  });
}

/** Mean and sample sd of each column of equally long rows (one row per seed). */
function columnSpread(rows: number[][]): { mean: number; sd: number }[] {
  return rows[0]!.map((_, i) => {
    const xs = rows.map((r) => r[i]!);
    return { mean: mean(xs), sd: sd(xs) };
  });
}

/**
 * Training loss (moving mean) and validation loss per step, one colour per entry: the mean over
 * seeds as a line, ±1 sd over seeds as a band.
 */
export function lossChart(entries: readonly EntryRuns[], baseValLoss: number): TopLevelSpec {
  const width = 9, trainSplit = `train (moving mean of ${width})`;
  const values = entries.flatMap((e) => {
    const train = columnSpread(e.runs.map((r) => smooth(r.curve.map((c) => c.loss), width)));
    const val = columnSpread(e.runs.map((r) => r.valCurve.map((v) => v.loss)));
    const point = (split: string, step: number, s: { mean: number; sd: number }) => ({ method: e.label, split, step, loss: s.mean, low: s.mean - s.sd, high: s.mean + s.sd });
    return [
      ...train.map((s, i) => point(trainSplit, e.runs[0]!.curve[i]!.step + 1, s)),
      point('validation', 0, { mean: baseValLoss, sd: 0 }),
      ...val.map((s, i) => point('validation', e.runs[0]!.valCurve[i]!.step, s)),
    ];
  });
  const color = { field: 'method', type: 'nominal', title: 'method', sort: entries.map((e) => e.label), legend: { labelLimit: 240 } } as const;
  const seeds = Math.max(...entries.map((e) => e.runs.length));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Fine-tuning loss on the romance genre: mean over ${seeds} seed(s)${seeds > 1 ? ', band ±1 sd' : ''}`,
    width: 560,
    height: 320,
    data: { values },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step', axis: { tickMinStep: 1 } },
      color,
    },
    layer: [
      {
        mark: { type: 'area', opacity: 0.12 },
        encoding: {
          y: { field: 'low', type: 'quantitative', title: 'cross entropy (nats per character)', scale: { zero: false } },
          y2: { field: 'high' },
          detail: { field: 'split', type: 'nominal' },
        },
      },
      {
        mark: { type: 'line', point: false, strokeWidth: 1.5 },
        encoding: {
          y: { field: 'loss', type: 'quantitative' },
          strokeDash: { field: 'split', type: 'nominal', title: 'loss', legend: { labelLimit: 240 } },
        },
      },
    ],
  };
}

/**
 * The two alignment cosines per entry over the measurement steps: the mean over seeds as a line
 * with points, ±1 sd as a vertical rule. One panel per cosine.
 */
export function alignmentChart(entries: readonly EntryRuns[]): TopLevelSpec {
  const measures = { sgd: COS_SGD, adamw: COS_ADAMW } as const;
  const values = entries.filter((e) => e.runs[0]!.alignment.length).flatMap((e) =>
    (['sgd', 'adamw'] as const).flatMap((k) =>
      columnSpread(e.runs.map((r) => r.alignment.map((a) => a[k]))).map((s, i) => ({
        method: e.label, measure: measures[k], step: e.runs[0]!.alignment[i]!.step, cos: s.mean, low: s.mean - s.sd, high: s.mean + s.sd,
      }))));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Alignment with the Full-FT gradient G per measurement step (mean over seeds, ±1 sd)',
    data: { values },
    facet: { column: { field: 'measure', type: 'nominal', title: null, sort: [COS_SGD, COS_ADAMW] } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 300,
      height: 240,
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step', axis: { tickMinStep: 1 } },
        color: { field: 'method', type: 'nominal', title: 'method', sort: entries.map((e) => e.label), legend: { labelLimit: 240 } },
      },
      layer: [
        { mark: { type: 'line', point: true, strokeWidth: 1.5 }, encoding: { y: { field: 'cos', type: 'quantitative', title: 'cosine', scale: { zero: false } } } },
        { mark: { type: 'rule' }, encoding: { y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } } },
      ],
    },
  };
}

/** Saved activation bytes per step (measured next to the analytic model) and peak allocated bytes. */
export function memoryChart(results: MethodResult[]): TopLevelSpec {
  const saved = results.flatMap((r) => [
    { method: r.label, kind: 'measured (measureSaved)', kib: r.savedBytes / 1024 },
    { method: r.label, kind: 'analytic (methodMemory, L layers)', kib: r.analyticBytes / 1024 },
  ]);
  const peak = results.map((r) => ({ method: r.label, mib: r.peakBytes / 2 ** 20 }));
  const order = results.map((r) => r.label);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Memory per method (float32)',
    hconcat: [
      {
        title: 'saved activations of one step',
        width: 320,
        height: 260,
        data: { values: saved },
        mark: 'bar',
        encoding: {
          x: { field: 'method', type: 'nominal', sort: order, title: null, axis: { labelAngle: -30, labelLimit: 200 } },
          xOffset: { field: 'kind', type: 'nominal' },
          y: { field: 'kib', type: 'quantitative', title: 'KiB' },
          color: { field: 'kind', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 300 } },
        },
      },
      {
        title: 'peak allocated (backend.memory())',
        width: 220,
        height: 260,
        data: { values: peak },
        mark: { type: 'bar', color: '#888' },
        encoding: {
          x: { field: 'method', type: 'nominal', sort: order, title: null, axis: { labelAngle: -30, labelLimit: 200 } },
          y: { field: 'mib', type: 'quantitative', title: 'MiB' },
        },
      },
    ],
  };
}

/**
 * What one training step holds per method, stacked (the paper's Figure 2(a) in kind), all in
 * float32: the weights (every parameter), their gradients and AdamW's two moments (the trained
 * parameters), and the saved activations measured by measureSaved.
 */
export function memoryPerMethodChart(results: MethodResult[]): TopLevelSpec {
  const parts = ['weights', 'gradients', 'AdamW state', 'saved activations (measured)'];
  const values = results.flatMap((r) => {
    const mib = [r.total * 4, r.trainable * 4, r.trainable * 8, r.savedBytes].map((b) => b / 2 ** 20);
    return parts.map((part, i) => ({ method: r.label, part, order: i, mib: mib[i]! }));
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Memory of one training step per method (float32)',
    width: Math.max(240, 44 * results.length),
    height: 300,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'method', type: 'nominal', sort: results.map((r) => r.label), title: null, axis: { labelAngle: -30, labelLimit: 200 } },
      y: { field: 'mib', type: 'quantitative', title: 'MiB', stack: 'zero' },
      color: { field: 'part', type: 'nominal', title: null, sort: parts, legend: { orient: 'bottom', labelLimit: 300 } },
      order: { field: 'order', type: 'quantitative' },
    },
  };
}
