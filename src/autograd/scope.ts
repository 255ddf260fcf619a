import type { Tensor } from '../tensor.ts';
import { isTensor } from './tensor-class.ts';

/**
 * Memory scopes, as tf.tidy: scope(fn) disposes every tensor created inside fn except the
 * ones fn returns and the ones kept with keep() (gradients assigned to `.grad` are kept);
 * if fn throws, everything it created is disposed.
 * Storage saved by a live autograd graph stays alive until that graph is released.
 */
const stack: Set<Tensor>[] = [];

export function trackTensor(t: Tensor): void {
  stack[stack.length - 1]?.add(t);
}

/** Removes t from every open scope, so no scope disposes it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

export function scope<T>(fn: () => T): T {
  const created = new Set<Tensor>();
  stack.push(created);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    for (const t of created) t.dispose();
    throw e;
  } finally {
    stack.pop();
  }
  if (result instanceof Promise) throw new TypeError('scope: fn returned a Promise; scope(fn) needs a synchronous fn');
  const returned = new Set<Tensor>();
  collectTensors(result, returned);
  for (const t of created) {
    if (returned.has(t)) trackTensor(t); // hand it to the enclosing scope
    else t.dispose();
  }
  return result;
}

function collectTensors(value: unknown, out: Set<Tensor>): void {
  if (value === null || typeof value !== 'object') return;
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) value.forEach((v) => collectTensors(v, out));
  else if (value instanceof Map) value.forEach((v) => collectTensors(v, out));
  else if (Object.getPrototypeOf(value) === Object.prototype) Object.values(value).forEach((v) => collectTensors(v, out));
}
