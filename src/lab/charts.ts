import type { TopLevelSpec } from 'vega-lite';
import type { MethodResult } from './fine-tune.ts';

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

/** Training loss (moving mean) and validation loss per step, one colour per method. */
export function lossChart(results: MethodResult[], baseValLoss: number): TopLevelSpec {
  const width = 9;
  const values = results.flatMap((r) => [
    ...smooth(r.curve.map((c) => c.loss), width).map((loss, i) => ({ method: r.label, step: r.curve[i]!.step + 1, loss, split: `train (moving mean of ${width})` })),
    { method: r.label, step: 0, loss: baseValLoss, split: 'validation' },
    ...r.valCurve.map((v) => ({ method: r.label, step: v.step, loss: v.loss, split: 'validation' })),
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Fine-tuning loss on the romance genre (same base, seed and batches)',
    width: 560,
    height: 320,
    data: { values },
    mark: { type: 'line', point: false, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: 'cross entropy (nats per character)', scale: { zero: false } },
      color: { field: 'method', type: 'nominal', title: 'method', sort: results.map((r) => r.label), legend: { labelLimit: 240 } },
      strokeDash: { field: 'split', type: 'nominal', title: 'loss', legend: { labelLimit: 240 } },
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
