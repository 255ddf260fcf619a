/**
 * Injected faults: the self-test of the checks (`lorafa verify --inject-fault KIND:SIZE`,
 * `runClaim(claim, { fault })`). A fault perturbs what the harness *reads* from the code under
 * test — the ops, layers and memory model are never touched, and without a fault each hook below
 * returns its input as is. Every claim lists the faults it must detect and the smallest size at
 * which it does (Claim.detects; docs/verification.md); test/verify/faults.test.ts checks them.
 *
 *   grad:δ    a gradient g read from an op is g + δ·ν·E, ν = max(‖g‖, its natural scale), E a fixed unit direction
 *   output:δ  the same for a forward output
 *   sample:δ  each Monte Carlo sample is scaled by (1 + δ)
 *   leak:n    a saved tensor of n float32 elements that should have been released stays alive
 *   model:n   each figure read from the analytic memory model is off by n (bytes, or n·b·s·d for Table 7 cells)
 *   stale:δ   an in-place change of a frozen factor is made behind its version counter (relative size δ)
 */
import { mul } from '../autograd/ops/elementwise.ts';
import { fail } from '../errors.ts';
import { zeros } from '../factories.ts';
import { fillNormal } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { combine, mat, norm, type Mat } from './dense.ts';

export const FAULT_KINDS = ['grad', 'output', 'sample', 'leak', 'model', 'stale'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  kind: FaultKind;
  /** δ (relative) for grad, output, sample and stale; n (a count) for leak and model. */
  size: number;
}

let active: Fault | null = null;

/** Throws a LorafaError unless fault is { kind: one of FAULT_KINDS, size: a finite non-zero number (a positive integer for leak) }. */
export function checkFault(op: string, fault: Fault): void {
  const { kind, size } = fault;
  if (!FAULT_KINDS.includes(kind)) fail(op, `fault kind '${String(kind)}' is unknown; expected one of ${FAULT_KINDS.join(', ')}`);
  if (!(typeof size === 'number' && Number.isFinite(size) && size !== 0)) fail(op, `fault size ${String(size)} is invalid; expected a finite non-zero number`);
  if (kind === 'leak' && !(Number.isInteger(size) && size > 0)) fail(op, `fault size ${size} is invalid for leak; expected a whole number of elements ≥ 1`);
}

/** 'grad:1e-9' → { kind: 'grad', size: 1e-9 }. */
export function parseFault(op: string, text: string): Fault {
  const [kind, size, ...rest] = text.split(':');
  if (rest.length || size === undefined || size.trim() === '') fail(op, `fault '${text}' is not KIND:SIZE (e.g. grad:1e-9)`);
  const fault = { kind: kind as FaultKind, size: Number(size) };
  checkFault(op, fault);
  return fault;
}

export function formatFault(f: Fault): string {
  return `${f.kind}:${f.size}`;
}

/** Runs fn with the fault active (none: fn as is). */
export function withFault<T>(fault: Fault | undefined, fn: () => T): T {
  if (!fault) return fn();
  checkFault('runClaim', fault);
  const outer = active;
  active = fault;
  try {
    return fn();
  } finally {
    active = outer;
  }
}

/** The size of the active fault if it is of this kind, else 0. */
export function faultSize(kind: FaultKind): number {
  return active?.kind === kind ? active.size : 0;
}

/** A unit-norm direction of the given shape (Philox normals of a fixed seed): the same for every call. */
function direction(rows: number, cols: number): Mat {
  const v = new Float64Array(rows * cols);
  fillNormal(v, 0xfa017, 0);
  const length = Math.max(norm(mat(rows, cols, v)), Number.MIN_VALUE);
  return mat(rows, cols, v.map((x) => x / length));
}

/** m + δ·max(‖m‖, natural)·E under a `kind` fault of size δ (an infinite natural scale is ignored); m itself otherwise. */
export function perturb(kind: 'grad' | 'output', m: Mat, natural: number): Mat {
  const delta = faultSize(kind);
  if (delta === 0) return m;
  return combine(m, 1, direction(m.rows, m.cols), delta * Math.max(norm(m), Number.isFinite(natural) ? natural : 0));
}

/** x·(1 + δ) under a sample fault of size δ. */
export function biased(x: number): number {
  return x * (1 + faultSize('sample'));
}

/** x + n under a model fault of size n. */
export function modelled(x: number): number {
  return x + faultSize('model');
}

/**
 * Under a leak fault of size n: a graph that saved an n-element float32 activation (its output,
 * to keep alive as long as the leak should last: a scope that disposes it frees the graph); null otherwise.
 */
export function leak(): Tensor | null {
  const n = faultSize('leak');
  if (n === 0) return null;
  const x = zeros([n], { requiresGrad: true });
  return mul(x, x); // saves x (once: the same storage twice)
}
