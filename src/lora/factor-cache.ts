/**
 * The cache of Cholesky factors of the frozen LoRA matrices: L with L·Lᵀ = AᵀA (+ λI) for
 * LoRA-FA's A, or BBᵀ (+ λI) for LoRA-FB's B. While the matrix is frozen its factor is
 * constant, so it is computed once (on the host, in float64) and reused by every step.
 *
 * - Key: the tensor's storage (its identity, shared by views), the storage `version`, and the
 *   shape the matrix was read with (a reshaped view of the same storage, A [6, 2] seen as
 *   [4, 3], is another matrix with another Gram matrix). Any in-place change — `t.assign()`, an
 *   optimizer step (`markModified()`) — bumps the version, and the next lookup refactors.
 *   One factor is kept per storage: alternating between two views of it refactors each time.
 * - The factor lives on the tensor's device as an r×r storage, float64 where the backend
 *   supports it (CPU) and float32 otherwise (WebGPU), and is applied by the `cholSolve`
 *   kernel, so the same op code runs on every backend.
 * - Computing it needs the matrix's values on the host. On the CPU that is synchronous, so the
 *   first forward computes it. A WebGPU tensor can only be read asynchronously: the LoRA layers
 *   prime the cache from the host copy they initialise A (or B) from, so no read-back happens;
 *   after an in-place change, `await prepareLoraFactor(t, side)` (or `await layer.prepare()`)
 *   reads it back once. A cold cache on WebGPU inside forward is an error, never a silent sync.
 * - The factor is released when the matrix's storage is garbage-collected, or explicitly with
 *   `releaseLoraFactor(t)`.
 */
import type { Storage } from '../backends/backend.ts';
import { describe, fail } from '../errors.ts';
import { Tensor } from '../tensor.ts';
import { factorGram, type GramSide } from './gram.ts';

interface Entry {
  version: number;
  /** [rows, cols] of the matrix the factor belongs to. */
  shape: readonly [number, number];
  side: GramSide;
  ridge: number;
  factor: Storage;
}

const cache = new WeakMap<Storage, Entry>();
/** Frees a factor whose matrix was garbage-collected; the entry is the unregister token. */
const finalizer = new FinalizationRegistry<Storage>((factor) => {
  factor.release();
  stats.cached--;
});
const stats = { factorizations: 0, cached: 0 };

/** How many factorizations ran since startup, and how many factors are cached now. */
export function loraFactorStats(): { factorizations: number; cached: number } {
  return { ...stats };
}

function label(side: GramSide): string {
  return side === 'columns' ? 'A' : 'B';
}

function checkMatrix(op: string, t: Tensor, side: GramSide, ridge: number): void {
  t.assertAlive(op);
  if (t.rank !== 2) fail(op, `${describe(label(side), t)} must be a matrix`);
  if (!(Number.isFinite(ridge) && ridge >= 0)) fail(op, `ridge = ${ridge} is invalid; expected a finite λ ≥ 0`);
}

function lookup(t: Tensor, side: GramSide, ridge: number): Entry | null {
  const e = cache.get(t.storage);
  const fits = e && e.version === t.version && e.side === side && e.ridge === ridge;
  return fits && e.shape[0] === t.shape[0] && e.shape[1] === t.shape[1] ? e : null;
}

/** A new handle on the cached factor, marked as a parameter (saving it costs no activation bytes). */
function handle(e: Entry, r: number): Tensor {
  e.factor.retain();
  return new Tensor(e.factor, [r, r], { parameter: true });
}

/** Factors t's Gram matrix from host values of t taken at `version`, and caches it. */
function store(op: string, t: Tensor, side: GramSide, ridge: number, values: ArrayLike<number>, version: number): Entry {
  const L = factorGram(op, label(side), t.shape, t.dtype, values, side, ridge);
  stats.factorizations++;
  const backend = t.backend;
  const factor = backend.upload(backend.supportsDtype('float64') ? L : Float32Array.from(L));
  const entry: Entry = { version, shape: [t.shape[0]!, t.shape[1]!], side, ridge, factor };
  forget(t.storage);
  cache.set(t.storage, entry);
  finalizer.register(t.storage, factor, entry);
  stats.cached++;
  return entry;
}

function forget(key: Storage): void {
  const old = cache.get(key);
  if (!old) return;
  cache.delete(key);
  finalizer.unregister(old);
  old.factor.release();
  stats.cached--;
}

/**
 * The Cholesky factor L [r, r] of t's Gram matrix (AᵀA for side 'columns', BBᵀ for 'rows'),
 * plus λ = ridge on the diagonal; a new tensor handle the caller disposes. Computed on a cold
 * cache when t's values can be read synchronously (CPU); elsewhere the cache must be warm.
 */
export function loraFactor(op: string, t: Tensor, side: GramSide, ridge = 0): Tensor {
  checkMatrix(op, t, side, ridge);
  const r = side === 'columns' ? t.shape[1]! : t.shape[0]!;
  const hit = lookup(t, side, ridge);
  if (hit) return handle(hit, r);
  if (!t.backend.readSync) {
    fail(op, `the factor of ${describe(label(side), t)} (version ${t.version}) is not cached: it is computed on the host, ` +
      `and a ${t.device} tensor cannot be read synchronously inside forward; call \`await prepareLoraFactor(${label(side)}, '${side}')\` ` +
      '(or `await layer.prepare()`) after creating or changing it in place');
  }
  return handle(store(op, t, side, ridge, t.dataSync(), t.version), r);
}

/** Computes and caches t's factor, reading t back once if needed (the warm-up for WebGPU). */
export async function prepareLoraFactor(t: Tensor, side: GramSide, options: { ridge?: number } = {}): Promise<void> {
  const ridge = options.ridge ?? 0;
  checkMatrix('prepareLoraFactor', t, side, ridge);
  if (lookup(t, side, ridge)) return;
  const version = t.version;
  const values = await t.data();
  if (t.version !== version) fail('prepareLoraFactor', `${describe(label(side), t)} changed in place while it was being read`);
  store('prepareLoraFactor', t, side, ridge, values, version);
}

/**
 * Caches t's factor from a host copy of its current values (what LoRA layers do right after
 * initialising a frozen matrix, so a WebGPU device never has to read it back).
 */
export function primeLoraFactor(op: string, t: Tensor, side: GramSide, ridge: number, values: ArrayLike<number>): void {
  checkMatrix(op, t, side, ridge);
  if (values.length !== t.size) fail(op, `host copy has ${values.length} values; expected ${t.size} for ${describe(label(side), t)}`);
  if (!lookup(t, side, ridge)) store(op, t, side, ridge, values, t.version);
}

/** Frees t's cached factor now (it is also freed when t's storage is garbage-collected). */
export function releaseLoraFactor(t: Tensor): void {
  forget(t.storage);
}
