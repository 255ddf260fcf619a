/**
 * Loop and arithmetic idioms used by every generator, each a short fixed instruction sequence.
 * Counters and pointers are i32 locals; pointer comparisons are unsigned (memory may pass 2 GiB).
 */
import type { FunctionBuilder, Local } from './emitter.ts';

/** x += delta, for a constant or a local delta. */
export function inc(f: FunctionBuilder, x: Local, delta: number | Local): void {
  f.local_get(x);
  if (typeof delta === 'number') f.i32_const(delta);
  else f.local_get(delta);
  f.i32_add();
  f.local_set(x);
}

/** x = value(). */
export function set(f: FunctionBuilder, x: Local, value: () => void): void {
  value();
  f.local_set(x);
}

/** Pushes min(x, y) (unsigned): `x y (x <u y) select`. */
export function minU(f: FunctionBuilder, x: Local, y: Local): void {
  f.local_get(x);
  f.local_get(y);
  f.local_get(x);
  f.local_get(y);
  f.i32_lt_u();
  f.select();
}

/**
 * `while (counter != 0) { body(); counter -= 1; }` as a guard plus a bottom-tested loop, so each
 * iteration costs one decrement and one conditional branch.
 */
export function repeat(f: FunctionBuilder, counter: Local, body: () => void): void {
  f.local_get(counter);
  f.if_();
  const top = f.loop();
  body();
  f.local_get(counter);
  f.i32_const(1);
  f.i32_sub();
  f.local_tee(counter);
  f.br_if(top);
  f.end();
  f.end();
}

/** `for (i = 0; i < end; i += step) body()`, unsigned compare, bottom-tested after a guard. */
export function forUp(f: FunctionBuilder, i: Local, end: Local, step: number | Local, body: () => void): void {
  f.i32_const(0);
  f.local_set(i);
  f.local_get(end);
  f.if_();
  const top = f.loop();
  body();
  inc(f, i, step);
  f.local_get(i);
  f.local_get(end);
  f.i32_lt_u();
  f.br_if(top);
  f.end();
  f.end();
}

/** `while (x >= n) { body(); x -= n; }` (unsigned). */
export function whileAtLeast(f: FunctionBuilder, x: Local, n: number, body: () => void): void {
  const exit = f.block();
  const top = f.loop();
  f.local_get(x);
  f.i32_const(n);
  f.i32_lt_u();
  f.br_if(exit);
  body();
  inc(f, x, -n);
  f.br(top);
  f.end();
  f.end();
}

/** Emits body(a, b) once per truth value of two i32 locals, the variant chosen at run time (flags tested once, outside the loops). */
export function byFlags(f: FunctionBuilder, a: Local, b: Local, body: (a: boolean, b: boolean) => void): void {
  f.local_get(a);
  f.if_();
  f.local_get(b); f.if_(); body(true, true); f.else_(); body(true, false); f.end();
  f.else_();
  f.local_get(b); f.if_(); body(false, true); f.else_(); body(false, false); f.end();
  f.end();
}
