/**
 * Panel "The projection": one LoRA-FA layer's gradients computed by lorafa (CPU backend, float64,
 * on this page) for the sliders' sizes and seed or for pasted X, dY, A; the heatmaps of
 * verify's projectionView, claims 1–4 for this input, and the toggle between the closed-form
 * g̃_B and the uncorrected g_B. Every displayed number carries its full value in data-value.
 */
import { dataFromJson, makeData, projectionView, type LoraCase, type LoraData, type ProjectionView } from '../../src/verify/index.ts';
import { $, bindSliders } from './ui.ts';
import { esc, fmt, heatmap } from './svg.ts';


/** The case the controls describe (float64, gaussian A). */
export function caseFromControls(): LoraCase {
  const n = (id: string) => Number($<HTMLInputElement>(id).value);
  return { N: n('p-N'), d: n('p-d'), o: n('p-o'), r: Math.min(n('p-r'), n('p-d'), n('p-o')), sigma: n('p-sigma'), seed: n('p-seed'), init: 'gaussian', dtype: 'float64' };
}

function value(x: number, text = fmt(x)): string {
  return `<span data-value="${x}">${esc(text)}</span>`;
}

function render(v: ProjectionView, data: LoraData, closedForm: boolean): void {
  const m = v.matrices;
  const scale = Math.max(0, ...Array.from(m.PAG.data, Math.abs), ...Array.from(m.update.data, Math.abs), ...Array.from(m.uncorrected.data, Math.abs));
  const shown = closedForm ? m.update : m.uncorrected;
  $('p-heatmaps').innerHTML = [
    heatmap(m.G, 'G = Xᵀ·dY'),
    heatmap(m.gB, 'g_B = σ·Aᵀ·G (LoRA)'),
    heatmap(m.gTilde, 'g̃_B (LoRA-FA)'),
  ].join('');
  $('p-compare').innerHTML = [
    heatmap(shown, closedForm ? 'σ·A·g̃_B (closed form)' : 'σ·A·g_B (uncorrected)', scale),
    heatmap(m.PAG, 'P_A·G', scale),
    heatmap(m.residual, 'residual R = G − P_A·G'),
    heatmap(m.AtR, 'Aᵀ·R (inner products with A’s columns)'),
  ].join('');
  const distance = closedForm ? v.distance.corrected : v.distance.uncorrected;
  $('p-distance').innerHTML = `‖${closedForm ? 'σ·A·g̃_B' : 'σ·A·g_B'} − P_A·G‖ / ‖P_A·G‖ = ${value(distance)} ` +
    `<span id="p-distance-other">(${closedForm ? 'uncorrected' : 'closed form'}: ${value(closedForm ? v.distance.uncorrected : v.distance.corrected)})</span>; ` +
    `max |⟨a_j, R_k⟩| / (‖A‖‖G‖) = ${value(v.residualInner)} (≈ 0); σ = ${value(v.sigma)}; N = ${data.c.N}, d = ${data.c.d}, o = ${data.c.o}, r = ${data.c.r}`;
  $('p-claims').innerHTML = v.claims.map((c) =>
    `<tr data-claim="${esc(c.id)}"><th scope="row">${esc(c.id)}</th><td>${esc(c.title)}</td><td>${value(c.error)}</td><td>${value(c.tolerance)}</td>` +
    `<td>${c.holds ? 'holds' : '<strong>does not hold</strong>'}</td></tr>`).join('');
}

/** Recomputes from the controls (or the pasted JSON); an error is shown on the page and the last good result stays. */
export function updateProjection(): void {
  const error = $('p-error');
  const c = caseFromControls();
  const text = $<HTMLTextAreaElement>('p-json').value.trim();
  try {
    const data = text ? dataFromJson(text, makeData, c) : makeData(c);
    const v = projectionView(data);
    render(v, data, $<HTMLInputElement>('p-closed-form').checked);
    error.textContent = '';
    error.hidden = true;
    $('p-source').textContent = text ? 'X, dY and A from the text box (W and B drawn from the seed)' : `X, W, A, B, dY drawn from seed ${c.seed}`;
  } catch (e) {
    error.textContent = (e as Error).message;
    error.hidden = false;
  }
}

export function setupProjection(): void {
  bindSliders(['p-N', 'p-d', 'p-o', 'p-r', 'p-sigma', 'p-seed'], updateProjection);
  $('p-closed-form').addEventListener('change', updateProjection);
  $('p-apply').addEventListener('click', updateProjection);
  $('p-clear').addEventListener('click', () => {
    $<HTMLTextAreaElement>('p-json').value = '';
    updateProjection();
  });
  updateProjection();
}
