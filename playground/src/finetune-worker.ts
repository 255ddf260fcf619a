/**
 * The fine-tune panel's Web Worker: fetches the bundled checkpoint and text, picks WebGPU
 * (navigator.gpu in this worker) or falls back to the CPU backend, and runs the lab's fineTune
 * for each chosen method, posting every step (loss, ms, saved bytes) as it ends, and cos(−ΔW, G)
 * at the quarter steps.
 * The page stops a run by terminating the worker.
 */
import { getBackend, initWebGpu, parseSafetensors, useBackend } from '../../src/index.ts';
import type { Device } from '../../src/dtype.ts';
import { checkpointFrom } from '../../src/lab/base-model.ts';
import { fineTune, type StepInfo } from '../../src/lab/fine-tune.ts';
import { fineTuneOptions, type FineTuneRequest } from './finetune-options.ts';

export type WorkerMessage =
  | { type: 'device'; device: Device; description: string; note: string }
  | ({ type: 'step'; method: string; step: number; loss: number } & StepInfo)
  | { type: 'alignment'; method: string; step: number; sgd: number; adamw: number }
  | { type: 'method-done'; method: string; valLoss: number; msPerStep: number; savedBytes: number; analyticBytes: number; expectedBytes: number }
  | { type: 'done' }
  | { type: 'error'; message: string };

const post = (m: WorkerMessage) => (self as unknown as { postMessage(m: WorkerMessage): void }).postMessage(m);

/** WebGPU when asked for and it works; otherwise the CPU, with the reason. */
async function chooseDevice(wanted: FineTuneRequest['device']): Promise<{ device: Device; note: string }> {
  if (wanted === 'cpu') return { device: 'cpu', note: 'CPU chosen on the page' };
  if (!(navigator as { gpu?: unknown }).gpu) return { device: 'cpu', note: 'CPU fallback: this browser exposes no WebGPU (navigator.gpu is missing)' };
  try {
    await initWebGpu();
    return { device: 'webgpu', note: 'WebGPU detected' };
  } catch (e) {
    return { device: 'cpu', note: `CPU fallback: ${(e as Error).message}` };
  }
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching ${url}: HTTP ${res.status}`);
  return res;
}

self.onmessage = async (e: MessageEvent<FineTuneRequest>) => {
  const req = e.data;
  try {
    const { device, note } = await chooseDevice(req.device);
    useBackend(device);
    post({ type: 'device', device, description: getBackend(device).description, note });
    const [bytes, text] = await Promise.all([
      fetchOk(req.checkpointUrl).then(async (r) => new Uint8Array(await r.arrayBuffer())),
      fetchOk(req.textUrl).then((r) => r.text()),
    ]);
    const load = async () => checkpointFrom(parseSafetensors(bytes, { device }), 'base.safetensors', device);
    for (const method of req.settings.methods) {
      const r = await fineTune(load, text, {
        ...fineTuneOptions(method, req.settings, device),
        onStep: (step, loss, info) => post({ type: 'step', method, step, loss, ...info }),
        onAlignment: (step, a) => post({ type: 'alignment', method, step, sgd: a.sgd, adamw: a.adamw }),
      });
      post({ type: 'method-done', method, valLoss: r.valLoss, msPerStep: r.msPerStep, savedBytes: r.savedBytes, analyticBytes: r.analyticBytes, expectedBytes: r.expectedBytes });
    }
    post({ type: 'done' });
  } catch (err) {
    post({ type: 'error', message: String((err as Error).stack ?? err) });
  }
};
