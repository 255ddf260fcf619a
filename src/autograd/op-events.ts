import type { Backend } from '../backends/backend.ts';

/**
 * A stream of op events for observers such as profileMemory (profile.ts): one event after each
 * op's forward (Function.apply) and one after each op's backward step (engine.ts). Ops applied
 * inside a backward step are part of that step (no event of their own), except a checkpoint's
 * recomputation (checkpoint.ts), whose ops are 'recompute' events. Emitting costs one length
 * check when nothing listens.
 */
export type OpPhase = 'forward' | 'backward' | 'recompute';

export interface OpEvent {
  phase: OpPhase;
  op: string;
  /** Dotted module path of the op ('' outside any module). */
  module: string;
  backend: Backend;
}

const listeners: ((e: OpEvent) => void)[] = [];
/** How many backward passes and recomputations are under way (nested recomputations count each). */
const depth = { backward: 0, recompute: 0 };

/** After an op's forward: a 'forward' event, a 'recompute' event in a recomputation, none inside a backward step. */
export function emitOp(op: string, module: string, backend: Backend): void {
  if (!listeners.length || (depth.backward > 0 && depth.recompute === 0)) return;
  emit({ phase: depth.recompute > 0 ? 'recompute' : 'forward', op, module, backend });
}

/** After an op's backward step (its gradients handed on and its saved tensors released). */
export function emitBackwardStep(op: string, module: string, backend: Backend): void {
  if (listeners.length) emit({ phase: 'backward', op, module, backend });
}

function emit(e: OpEvent): void {
  for (const l of [...listeners]) l(e);
}

/** Runs a backward pass: ops applied inside its steps are not reported. */
export function duringBackward<T>(fn: () => T): T {
  return within('backward', fn);
}

/** Runs a checkpoint's recomputation: its ops are reported as 'recompute'. */
export function duringRecompute<T>(fn: () => T): T {
  return within('recompute', fn);
}

function within<T>(kind: keyof typeof depth, fn: () => T): T {
  depth[kind]++;
  try {
    return fn();
  } finally {
    depth[kind]--;
  }
}

/** Runs fn with listener receiving every op event. */
export function listenToOps<T>(listener: (e: OpEvent) => void, fn: () => T): T {
  listeners.push(listener);
  try {
    return fn();
  } finally {
    listeners.splice(listeners.indexOf(listener), 1);
  }
}
