/**
 * Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
 * a counter-based generator. Its output is a pure function of (key, counter), so the i-th
 * random number of a call needs no state: a dropout mask can be regenerated in backward from
 * (seed, offset) instead of being stored, and the WGSL kernels compute bit-identical values.
 *
 * Streams used by the engine (all u32 arithmetic):
 *   key = (seed, 0); block b = (offset + ⌊i/4⌋) mod 2³², counter = (b, 0, 0, 0); lane = i mod 4
 *   uniform(i) = (philox(counter)[lane] >>> 8) · 2⁻²⁴          ∈ [0, 1), exact in float32
 *   dropout keeps element i iff (philox(counter)[lane] >>> 8) ≥ round(p · 2²⁴)
 *   normal(i) uses block offset + i: u₁ = ((w₀ >>> 8) + 1)·2⁻²⁴, u₂ = (w₁ >>> 8)·2⁻²⁴,
 *             z = √(−2 ln u₁)·cos(2π u₂)   (Box–Muller)
 */

import { fail } from './errors.ts';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 values, from 16-bit halves (exact in doubles). */
export function mulhi32(a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox-4x32-10 of counter (c0..c3) under key (k0, k1), written into out[0..3]. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

const TWO_POW_24 = 16777216;

export function checkSeed(op: string, seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    fail(op, `seed must be an integer in [0, 2^32), got ${seed}`);
  }
}

/** The integer threshold on 24-bit draws that gives drop probability p. */
export function dropThreshold(p: number): number {
  return Math.round(p * TWO_POW_24);
}

/** Fills out with uniform(i) of the (seed, offset) stream. */
export function fillUniform(out: Float32Array | Float64Array, seed: number, offset: number): void {
  const w = new Uint32Array(4);
  for (let i = 0; i < out.length; i += 4) {
    philox4x32((offset + i / 4) >>> 0, 0, 0, 0, seed >>> 0, 0, w);
    for (let lane = 0; lane < 4 && i + lane < out.length; lane++) out[i + lane] = (w[lane]! >>> 8) / TWO_POW_24;
  }
}

/** Fills out with normal(i) of the (seed, offset) stream. */
export function fillNormal(out: Float32Array | Float64Array, seed: number, offset: number): void {
  const w = new Uint32Array(4);
  for (let i = 0; i < out.length; i++) {
    philox4x32((offset + i) >>> 0, 0, 0, 0, seed >>> 0, 0, w);
    const u1 = ((w[0]! >>> 8) + 1) / TWO_POW_24;
    const u2 = (w[1]! >>> 8) / TWO_POW_24;
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** Philox blocks a call of `size` elements consumes, so the next call starts after it. */
export function blocksUsed(dist: 'uniform' | 'normal', size: number): number {
  return dist === 'normal' ? size : Math.ceil(size / 4);
}

/**
 * The global generator: a seed and a running block offset, like PyTorch's Philox state.
 * Each random op takes (seed, offset) and advances the offset past the blocks it used.
 */
const state = { seed: 0, offset: 0 };

export function manualSeed(seed: number): void {
  checkSeed('manualSeed', seed);
  state.seed = seed;
  state.offset = 0;
}

export function nextRandomState(dist: 'uniform' | 'normal', size: number): { seed: number; offset: number } {
  const taken = { seed: state.seed, offset: state.offset };
  state.offset = (state.offset + blocksUsed(dist, size)) >>> 0;
  return taken;
}

/** The generator's (seed, offset) now: activation checkpointing restores it to recompute identical dropout masks. */
export function getRandomState(): { seed: number; offset: number } {
  return { ...state };
}

export function setRandomState(s: { seed: number; offset: number }): void {
  state.seed = s.seed;
  state.offset = s.offset;
}
