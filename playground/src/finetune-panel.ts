/**
 * Panel "Fine-tune": the lab's tiny GPT fine-tuned in a Web Worker (finetune-worker.ts) on WebGPU
 * or the CPU, for the chosen methods; the loss curves, saved bytes, ms per step and cos(−ΔW, G)
 * appear as each step ends. Stop terminates the worker. Every step's row carries its full values
 * in data-* attributes.
 */
import checkpointUrl from '../../checkpoints/base.safetensors?url';
import textUrl from '../../data/finetune.txt?url';
import type { LabMethod } from '../../src/lab/fine-tune.ts';
import { PLAYGROUND_METHODS, type FineTuneRequest } from './finetune-options.ts';
import type { WorkerMessage } from './finetune-worker.ts';
import { esc, fmt, lineChart, type Series } from './svg.ts';
import { $ } from './ui.ts';

let worker: Worker | null = null;
let curves = new Map<string, Series>();

const labelOf = (key: string) => PLAYGROUND_METHODS.find((m) => m.key === key)?.label ?? key;

function setRunning(running: boolean): void {
  $<HTMLButtonElement>('f-start').disabled = running;
  $<HTMLButtonElement>('f-stop').disabled = !running;
}

function status(text: string, state: string): void {
  const el = $('f-status');
  el.textContent = text;
  el.dataset.state = state;
}

function drawChart(): void {
  $('f-chart').innerHTML = lineChart([...curves.values()], 'Training loss per step', 'step (AdamW updates)', 'loss (nats per character)');
}

function onMessage(m: WorkerMessage): void {
  switch (m.type) {
    case 'device':
      $('f-device').dataset.device = m.device;
      $('f-device').textContent = `${m.note}. Fine-tuning runs in a Web Worker on ${m.description}.`;
      break;
    case 'step': {
      if (!curves.has(m.method)) curves.set(m.method, { label: labelOf(m.method), points: [] });
      curves.get(m.method)!.points.push({ x: m.step, y: m.loss });
      drawChart();
      $('f-rows').insertAdjacentHTML('beforeend', `<tr data-method="${esc(m.method)}" data-step="${m.step}" data-loss="${m.loss}" data-saved="${m.savedBytes}">` +
        `<th scope="row">${esc(labelOf(m.method))}</th><td>${m.step}</td><td>${m.loss.toFixed(4)}</td><td>${m.savedBytes.toLocaleString('en')}</td>` +
        `<td>${m.ms.toFixed(1)}</td><td data-cos>–</td></tr>`);
      status(`${labelOf(m.method)}: step ${m.step} of ${$<HTMLInputElement>('f-steps').value}`, 'running');
      break;
    }
    case 'alignment': {
      const cell = document.querySelector(`#f-rows tr[data-method="${m.method}"][data-step="${m.step}"] td[data-cos]`);
      if (cell) {
        cell.textContent = fmt(m.sgd);
        cell.setAttribute('data-value', String(m.sgd));
      }
      break;
    }
    case 'method-done':
      $('f-summary').insertAdjacentHTML('beforeend', `<li data-method="${esc(m.method)}">${esc(labelOf(m.method))}: validation loss ${m.valLoss.toFixed(4)} nats/char, ` +
        `${m.msPerStep.toFixed(1)} ms per step (after the first), saved activations ${m.savedBytes.toLocaleString('en')} B per step; ` +
        `the analytic model says ${m.expectedBytes.toLocaleString('en')} B (${m.analyticBytes.toLocaleString('en')} B from the per-layer formula × layers, plus this GPT's extra tensors)</li>`);
      break;
    case 'done':
      status('done', 'done');
      stop(false);
      break;
    case 'error':
      status(`error: ${m.message}`, 'error');
      stop(false);
      break;
  }
}

function stop(byUser: boolean): void {
  worker?.terminate();
  worker = null;
  setRunning(false);
  if (byUser) status('stopped', 'stopped');
}

function start(): void {
  const n = (id: string) => Number($<HTMLInputElement>(id).value);
  const methods = PLAYGROUND_METHODS.filter((m) => $<HTMLInputElement>(`f-m-${m.key}`).checked).map((m) => m.key as LabMethod);
  if (!methods.length) {
    status('choose at least one method', 'error');
    return;
  }
  const request: FineTuneRequest = {
    settings: { methods, steps: n('f-steps'), batch: n('f-batch'), seq: n('f-seq'), rank: n('f-rank'), seed: n('f-seed') },
    checkpointUrl: new URL(checkpointUrl, location.href).href,
    textUrl: new URL(textUrl, location.href).href,
    device: $<HTMLSelectElement>('f-device-choice').value as FineTuneRequest['device'],
  };
  curves = new Map();
  drawChart();
  $('f-rows').innerHTML = '';
  $('f-summary').innerHTML = '';
  worker = new Worker(new URL('./finetune-worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (e: MessageEvent<WorkerMessage>) => onMessage(e.data);
  worker.onerror = (e) => {
    status(`error: ${e.message}`, 'error');
    stop(false);
  };
  setRunning(true);
  status('loading the checkpoint and text…', 'running');
  worker.postMessage(request);
}

export function setupFineTune(): void {
  $('f-methods').innerHTML = PLAYGROUND_METHODS.map((m) =>
    `<label><input type="checkbox" id="f-m-${m.key}" ${m.key === 'lora' || m.key === 'lorafa' ? 'checked' : ''}> ${esc(m.label)}</label>`).join(' ');
  $('f-start').addEventListener('click', start);
  $('f-stop').addEventListener('click', () => stop(true));
  setRunning(false);
  drawChart();
}
