/**
 * Panel "What each method saves": one layer X [N, d] → [N, o] with every adapter kind — Full-FT,
 * LoRA, LoRA-FA, LoRA-FB, LoRA-Pro, DoRA, VeRA — (verify's singleLayerForward, float32, the CPU
 * backend on this page), with and without
 * adapter dropout: the autograd graph of the chosen method (graphOf, every saved tensor on the
 * node that keeps it) and a bar chart of measureSaved's bytes against the analytic formula
 * (memory.adapterSavedElements × 4 B). The numbers carry data-method, data-dropout, data-kind.
 */
import { graphOf, measureSaved, memory } from '../../src/index.ts';
import { singleLayerForward } from '../../src/verify/index.ts';
import { $, bindSliders } from './ui.ts';
import { barChart, esc, graphDrawing, type Bar } from './svg.ts';

const LABEL = memory.ADAPTER_LABELS;

/** The sizes and dropout the controls describe. */
export function layerFromControls() {
  const n = (id: string) => Number($<HTMLInputElement>(id).value);
  const [N, d, o] = [n('s-N'), n('s-d'), n('s-o')];
  return { N, d, o, r: Math.min(n('s-r'), d, o), p: n('s-p'), seed: n('s-seed'), dtype: 'float32' as const };
}

export function updateSaved(): void {
  const c = layerFromControls();
  const chosen = $<HTMLSelectElement>('s-method').value as memory.AdapterKind;
  const bars: Bar[] = [];
  const rows: string[] = [];
  for (const method of memory.ADAPTER_KINDS) {
    const analytic = memory.adapterSavedElements(method, c) * 4;
    for (const p of [0, c.p]) {
      const report = measureSaved(singleLayerForward(method, { ...c, p }));
      const g = graphOf(report.result);
      if (method === chosen && p === c.p) $('s-graph').innerHTML = graphDrawing(g, `${LABEL[method]}, dropout ${p}`);
      report.result.dispose(); // frees the graph and its saved tensors
      const tag = p === 0 ? 'no dropout' : `dropout ${p}`;
      bars.push({ group: LABEL[method], label: `measureSaved, ${tag}`, value: report.bytes });
      rows.push(`<tr><th scope="row">${LABEL[method]}</th><td>${tag}</td>` +
        `<td data-method="${method}" data-dropout="${p}" data-kind="measured">${report.bytes}</td>` +
        `<td data-method="${method}" data-dropout="${p}" data-kind="graph">${g.savedBytes}</td>` +
        `<td data-method="${method}" data-dropout="${p}" data-kind="analytic">${analytic}</td></tr>`);
      if (c.p === 0) break; // one row when the slider asks for no dropout
    }
    bars.push({ group: LABEL[method], label: 'analytic formula', value: analytic });
  }
  const labels = [...new Set(bars.map((b) => b.label))];
  $('s-chart').innerHTML = barChart(bars, labels, `Saved activations, N = ${c.N}, d = ${c.d}, o = ${c.o}, r = ${c.r}, float32`, 'saved for backward (bytes)');
  $('s-table').innerHTML = rows.join('');
  const { N, d, o, r } = c;
  $('s-formula').innerHTML = esc(`analytic: Full-FT N·d = ${N * d}, LoRA and LoRA-Pro N·(d + r) = ${N * (d + r)}, LoRA-FA N·r = ${N * r}, ` +
    `LoRA-FB N·d = ${N * d}, DoRA N·(d + r + o) = ${N * (d + r + o)}, VeRA N·(r + o) = ${N * (r + o)} elements × 4 B`);
}

export function setupSaved(): void {
  bindSliders(['s-N', 's-d', 's-o', 's-r', 's-p', 's-seed'], updateSaved);
  $('s-method').addEventListener('change', updateSaved);
  updateSaved();
}
