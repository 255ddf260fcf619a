/**
 * The playground page: lorafa itself (its source, bundled by vite) in three panels — what each
 * method saves, the projection of Theorem 4.1, and fine-tuning the lab's GPT in a worker — and
 * the line that says what runs where.
 */
import { getBackend } from '../../src/index.ts';
import { setupFineTune } from './finetune-panel.ts';
import { setupProjection } from './projection-panel.ts';
import { setupSaved } from './saved-panel.ts';
import { $ } from './ui.ts';
import './style.css';

/** What WebGPU this browser offers: the adapter's vendor and architecture, or why there is none. */
async function detectWebGpu(): Promise<{ available: boolean; text: string }> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (!gpu) return { available: false, text: 'WebGPU: not available in this browser (no navigator.gpu); fine-tuning falls back to the CPU' };
  const adapter = await gpu.requestAdapter().catch(() => null) ?? await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions).catch(() => null);
  if (!adapter) return { available: false, text: 'WebGPU: navigator.gpu found no adapter; fine-tuning falls back to the CPU' };
  const info = adapter.info;
  const words = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' · ') || 'unnamed adapter';
  return { available: true, text: `WebGPU: detected (adapter ${words})` };
}

async function main(): Promise<void> {
  $('runtime-cpu').textContent = `Panels 1 and 2 compute on this page's main thread with lorafa's ${getBackend('cpu').description}.`;
  setupSaved();
  setupProjection();
  setupFineTune();
  const gpu = await detectWebGpu();
  const el = $('runtime-gpu');
  el.textContent = gpu.text;
  el.dataset.webgpu = String(gpu.available);
  document.body.dataset.ready = 'true';
}

main().catch((e: unknown) => {
  $('runtime-gpu').textContent = `error while starting: ${(e as Error).message}`;
  console.error(e);
});
