/**
 * Panel "What each method saves": one layer X [N, d] → [N, o] with Full-FT, LoRA, LoRA-FA and
 * LoRA-FB (verify's singleLayerForward, float32, CPU backend on this page), with and without
 * adapter dropout: the autograd graph of the chosen method (graphOf, every saved tensor on the
 * node that keeps it) and a bar chart of measureSaved's bytes against the analytic formula
 * (memory.adapterSavedElements × 4 B). The numbers carry data-method, data-dropout, data-kind.
 */
import { graphOf, measureSaved, memory } from '../../src/index.ts';
import { MEMORY_METHODS, singleLayerForward, type MemoryMethod } from '../../src/verify/index.ts';
import { $, bindSliders } from './ui.ts';
import { barChart, esc, graphDrawing, type Bar } from './svg.ts';


export const METHOD_LABELS: Record<MemoryMethod, string> = { full: 'Full-FT', lora: 'LoRA', loraFA: 'LoRA-FA', loraFB: 'LoRA-FB' };
const KIND: Record<MemoryMethod, memory.AdapterKind> = { full: 'full', lora: 'lora', loraFA: 'lorafa', loraFB: 'lorafb' };

/** The sizes and dropout the controls describe. */
export function layerFromControls() {
  const n = (id: string) => Number($<HTMLInputElement>(id).value);
  const [N, d, o] = [n('s-N'), n('s-d'), n('s-o')];
  return { N, d, o, r: Math.min(n('s-r'), d, o), p: n('s-p'), seed: n('s-seed'), dtype: 'float32' as const };
}

export function updateSaved(): void {
  const c = layerFromControls();
  const chosen = $<HTMLSelectElement>('s-method').value as MemoryMethod;
  const bars: Bar[] = [];
  const rows: string[] = [];
  for (const method of MEMORY_METHODS) {
    const analytic = memory.adapterSavedElements(KIND[method], c) * 4;
    for (const p of [0, c.p]) {
      const report = measureSaved(singleLayerForward(method, { ...c, p }));
      const g = graphOf(report.result);
      if (method === chosen && p === c.p) $('s-graph').innerHTML = graphDrawing(g, `${METHOD_LABELS[method]}, dropout ${p}`);
      report.result.dispose(); // frees the graph and its saved tensors
      const tag = p === 0 ? 'no dropout' : `dropout ${p}`;
      bars.push({ group: METHOD_LABELS[method], label: `measureSaved, ${tag}`, value: report.bytes });
      rows.push(`<tr><th scope="row">${METHOD_LABELS[method]}</th><td>${tag}</td>` +
        `<td data-method="${method}" data-dropout="${p}" data-kind="measured">${report.bytes}</td>` +
        `<td data-method="${method}" data-dropout="${p}" data-kind="graph">${g.savedBytes}</td>` +
        `<td data-method="${method}" data-dropout="${p}" data-kind="analytic">${analytic}</td></tr>`);
      if (c.p === 0) break; // one row when the slider asks for no dropout
    }
    bars.push({ group: METHOD_LABELS[method], label: 'analytic formula', value: analytic });
  }
  const labels = [...new Set(bars.map((b) => b.label))];
  $('s-chart').innerHTML = barChart(bars, labels, `Saved activations, N = ${c.N}, d = ${c.d}, o = ${c.o}, r = ${c.r}, float32`, 'saved for backward (bytes)');
  $('s-table').innerHTML = rows.join('');
  $('s-formula').innerHTML = esc(`analytic: Full-FT N·d = ${c.N * c.d}, LoRA N·(d + r) = ${c.N * (c.d + c.r)}, LoRA-FA N·r = ${c.N * c.r}, LoRA-FB N·d = ${c.N * c.d} elements × 4 B`);
}

export function setupSaved(): void {
  bindSliders(['s-N', 's-d', 's-o', 's-r', 's-p', 's-seed'], updateSaved);
  $('s-method').addEventListener('change', updateSaved);
  updateSaved();
}
