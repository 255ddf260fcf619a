// A browser consumer (bundled by esbuild for platform 'browser'): the same LoRA-FA forward +
// backward on the CPU backend and on WebGPU through navigator.gpu; the results go to window.__lorafa.
// The CPU asks for 2 threads with every kernel call split between them: a cross-origin-isolated
// page gets them (Web Workers over a shared memory), any other page one thread.
import { initCpu, initWebGpu, ops, prepareLoraFactor, randn } from 'lorafa';
import { sigma, problem } from './problem.mjs';

async function run(device) {
  const host = problem(randn, 'float32');
  const p = device === 'cpu' ? host : Object.fromEntries(await Promise.all(Object.entries(host).map(async ([k, t]) => [k, await t.to(device)])));
  if (device === 'webgpu') await prepareLoraFactor(p.A, 'columns'); // (AᵀA)'s factor, from one read-back of A
  const y = ops.loraFA(p.x, p.W, p.A, p.B, { scale: sigma });
  y.backward(p.dY);
  return { y: [...await y.data()], gradB: [...await p.B.grad.data()] };
}

async function main() {
  const cpuInfo = await initCpu({ threads: 2, parallelMinFlops: 0 });
  const cpu = await run('cpu');
  const gpu = await initWebGpu();
  const webgpu = await run('webgpu');
  return { cpu, cpuInfo, webgpu, adapter: gpu.description };
}

main().then((result) => (window.__lorafa = result), (e) => (window.__lorafa = { error: String(e?.stack ?? e) }));
