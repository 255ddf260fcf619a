/**
 * Worker threads where the platform has them, found at run time so that the library imports
 * nothing of Node: on Node, `node:worker_threads` and `node:os` through dynamic imports whose
 * specifiers are variables (bundlers leave them alone, as for Dawn in webgpu/init.ts); in
 * browsers (and Deno), Web Workers from a Blob URL. The core count: os.availableParallelism()
 * on Node, navigator.hardwareConcurrency in browsers.
 */
import type { Spawn, WorkerInit } from './threads.ts';
import { NODE_WORKER_SOURCE, WEB_WORKER_SOURCE } from './worker-source.ts';

export interface Platform {
  /** What the threads are, for the backend's description. */
  kind: 'worker_threads' | 'Web Workers';
  cores: number;
  spawn: Spawn;
}

/** The Node modules, in variables so that bundlers do not follow the imports. */
const WORKER_THREADS = 'node:worker_threads';
const OS = 'node:os';

interface NodeWorker {
  unref(): void;
  terminate(): unknown;
  on(event: 'error' | 'exit', listener: (e: unknown) => void): void;
}
interface NodeWorkerThreads {
  Worker: new (source: string, options: { eval: true; workerData: WorkerInit; execArgv: string[] }) => NodeWorker;
}
interface NodeOs {
  availableParallelism?: () => number;
  cpus(): unknown[];
}

interface WebWorker {
  postMessage(message: WorkerInit): void;
  terminate(): void;
  onerror: ((e: { message?: string }) => void) | null;
}
interface WebGlobals {
  process?: { versions?: { node?: string } };
  Worker?: new (url: string, options?: { name?: string }) => WebWorker;
  navigator?: { hardwareConcurrency?: number };
}

/** The platform's threads, or null (with the reason) where it has none. */
export async function loadPlatform(): Promise<Platform | string> {
  const g = globalThis as WebGlobals;
  if (g.process?.versions?.node) return nodePlatform();
  if (typeof g.Worker === 'function') return webPlatform(g.Worker, g.navigator?.hardwareConcurrency ?? 1);
  return 'this platform has no worker threads (neither node:worker_threads nor Web Workers)';
}

async function nodePlatform(): Promise<Platform | string> {
  try {
    const [{ Worker }, os] = await Promise.all([
      import(/* @vite-ignore */ WORKER_THREADS) as Promise<NodeWorkerThreads>,
      import(/* @vite-ignore */ OS) as Promise<NodeOs>,
    ]);
    return {
      kind: 'worker_threads',
      cores: os.availableParallelism?.() ?? os.cpus().length,
      spawn: (init, onFail) => {
        // no inherited flags: the worker runs plain JavaScript, without the parent's loaders
        const w = new Worker(NODE_WORKER_SOURCE, { eval: true, workerData: init, execArgv: [] });
        w.unref(); // an idle pool never keeps the process alive
        w.on('error', (e) => onFail(String((e as Error)?.message ?? e)));
        w.on('exit', (code) => onFail(`exited with code ${String(code)}`));
        return { terminate: () => void w.terminate() };
      },
    };
  } catch (e) {
    return `cannot load node:worker_threads: ${(e as Error).message}`;
  }
}

function webPlatform(WebWorkerClass: NonNullable<WebGlobals['Worker']>, cores: number): Platform {
  let url: string | null = null;
  return {
    kind: 'Web Workers',
    cores,
    spawn: (init, onFail) => {
      url ??= URL.createObjectURL(new Blob([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
      const w = new WebWorkerClass(url, { name: 'lorafa kernels' });
      w.onerror = (e) => onFail(e.message ?? 'error');
      w.postMessage(init);
      return { terminate: () => w.terminate() };
    },
  };
}

/** Whether this thread may sleep in Atomics.wait (not a browser's main thread). */
export function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // 'not-equal' at once where allowed
    return true;
  } catch {
    return false;
  }
}
