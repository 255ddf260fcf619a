/**
 * The kernel worker, as JavaScript source: the same text runs as a Node worker_threads worker
 * (`eval: true`) and as a browser Web Worker (from a Blob URL), so the package needs no
 * separate worker file that bundlers would have to find. It instantiates the shared kernel module
 * against the shared memory, sets READY in its control slot, and serves the calls posted there
 * (threads.ts documents the protocol and the slot layout, whose numbers are interpolated below).
 */
import { ARGS_BYTE, DONE, ERROR, NARGS, OP, READY, SEQ } from './threads.ts';

/** Polls of SEQ before sleeping in Atomics.wait: a burst of calls then skips the futex wake-up. */
const SPINS = 4000;

const SERVE = `'use strict';
function serve(init) {
  const env = { memory: init.memory };
  for (const name of init.mathImports) env[name] = Math[name];
  const exports = new WebAssembly.Instance(init.module, { env }).exports;
  const fns = init.exportNames.map((name) => exports[name]);
  const ctl = new Int32Array(init.memory.buffer, init.control, ${ARGS_BYTE / 4});
  const args = new Float64Array(init.memory.buffer, init.control + ${ARGS_BYTE}, init.maxArgs);
  let seen = Atomics.load(ctl, ${SEQ}); // read before READY: no call is posted until READY is seen
  Atomics.store(ctl, ${READY}, 1);
  for (;;) {
    let seq = Atomics.load(ctl, ${SEQ});
    for (let i = 0; seq === seen && i < ${SPINS}; i++) seq = Atomics.load(ctl, ${SEQ});
    if (seq === seen) {
      Atomics.wait(ctl, ${SEQ}, seen);
      continue;
    }
    seen = seq;
    const op = ctl[${OP}];
    if (op < 0) return;
    try {
      fns[op](...args.subarray(0, ctl[${NARGS}]));
      ctl[${ERROR}] = 0;
    } catch (e) {
      ctl[${ERROR}] = 1;
      console.error('lorafa kernel worker:', e);
    }
    Atomics.store(ctl, ${DONE}, seq);
    Atomics.notify(ctl, ${DONE});
  }
}
`;

/** For Node's worker_threads (eval: true, parsed as CommonJS or as a module): the init comes as workerData. */
export const NODE_WORKER_SOURCE = `${SERVE}import('node:worker_threads').then((wt) => serve(wt.workerData));\n`;

/** For a Web Worker: the init comes as the first message. */
export const WEB_WORKER_SOURCE = `${SERVE}self.onmessage = (e) => serve(e.data);\n`;
