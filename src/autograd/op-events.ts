import type { Backend } from '../backends/backend.ts';

/**
 * A stream of op events for observers such as profileMemory (profile.ts): one event after each
 * op's forward (Function.apply) and one after each op's backward step (engine.ts). Ops that run
 * while backward is under way are recomputations (activation checkpointing, checkpoint.ts).
 * Emitting costs one length check when nothing listens.
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

/** After an op's forward: a 'forward' event, or 'recompute' while backward runs. */
export function emitOp(op: string, module: string, backend: Backend): void {
  if (listeners.length) emit({ phase: backwardDepth > 0 ? 'recompute' : 'forward', op, module, backend });
}

/** After an op's backward step (its gradients handed on and its saved tensors released). */
export function emitBackwardStep(op: string, module: string, backend: Backend): void {
  if (listeners.length) emit({ phase: 'backward', op, module, backend });
}

function emit(e: OpEvent): void {
  for (const l of [...listeners]) l(e);
}

/** Runs a backward pass: ops applied inside it are reported as recomputations. */
export function duringBackward<T>(fn: () => T): T {
  backwardDepth++;
  try {
    return fn();
  } finally {
    backwardDepth--;
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
