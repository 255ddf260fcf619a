let enabled = true;

/** Whether ops record the graph for backward (false inside noGrad and during backward). */
export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs fn without recording the autograd graph (e.g. evaluation, optimizer steps). fn must be synchronous. */
export function noGrad<T>(fn: () => T): T {
  const result = withGradMode(false, fn);
  if (result instanceof Promise) {
    throw new TypeError('noGrad: fn returned a Promise; ops after its first await would record a graph — pass a synchronous fn');
  }
  return result;
}

export function withGradMode<T>(mode: boolean, fn: () => T): T {
  const prev = enabled;
  enabled = mode;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}
