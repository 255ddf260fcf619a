/**
 * A kernel group of the WebAssembly tier: any subset of a group's kernels, each of which may
 * return null instead of its result — it has no code for that op or dtype, or the heap is full —
 * and the CPU backend then runs the JavaScript kernel (in-place kernels return null or undefined).
 */
export type Fallible<K> = {
  [P in keyof K]?: K[P] extends (...args: infer A) => infer R ? (...args: A) => R | null : never;
};
