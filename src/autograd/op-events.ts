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
let backwardDepth = 0;
let recomputeDepth = 0;

/** After an op's forward: a 'forward' event, a 'recompute' event in a recomputation, none inside a backward step. */
export function emitOp(op: string, module: string, backend: Backend): void {
  if (!listeners.length || (backwardDepth > 0 && recomputeDepth === 0)) return;
  emit({ phase: recomputeDepth > 0 ? 'recompute' : 'forward', op, module, backend });
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
  backwardDepth++;
  try {
    return fn();
  } finally {
    backwardDepth--;
  }
}

/** Runs a checkpoint's recomputation: its ops are reported as 'recompute'. */
export function duringRecompute<T>(fn: () => T): T {
  recomputeDepth++;
  try {
    return fn();
  } finally {
    recomputeDepth--;
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
