import type { Device } from '../dtype.ts';
import { fail } from '../errors.ts';
import { tensor } from '../factories.ts';
import type { Tensor } from '../tensor.ts';

/** A character-level tokenizer: token i is the i-th character of `chars` (all distinct). */
export class CharTokenizer {
  private readonly index = new Map<string, number>();

  constructor(readonly chars: string) {
    [...chars].forEach((c, i) => {
      if (this.index.has(c)) fail('CharTokenizer', `character ${JSON.stringify(c)} appears twice in the vocabulary`);
      this.index.set(c, i);
    });
  }

  /** The sorted distinct characters of the texts. */
  static fromTexts(...texts: string[]): CharTokenizer {
    return new CharTokenizer([...new Set(texts.join(''))].sort().join(''));
  }

  get size(): number {
    return this.index.size;
  }

  encode(text: string): Int32Array {
    const out = new Int32Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const id = this.index.get(text[i]!);
      if (id === undefined) fail('CharTokenizer', `character ${JSON.stringify(text[i])} at position ${i} is not in the vocabulary of ${this.size}`);
      out[i] = id;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return Array.from(ids, (i) => this.chars[i] ?? '?').join('');
  }
}

/** The first (1 − valFraction) of the ids for training, the rest for validation (no overlap). */
export function splitTrainVal(ids: Int32Array, valFraction = 0.1): { train: Int32Array; val: Int32Array } {
  if (!(valFraction > 0 && valFraction < 1)) fail('splitTrainVal', `valFraction = ${valFraction}; expected 0 < valFraction < 1`);
  const cut = Math.floor(ids.length * (1 - valFraction));
  return { train: ids.subarray(0, cut), val: ids.subarray(cut) };
}

/** A batch of next-token windows: x [b, s] and its targets y [b, s] (x shifted by one), int32. */
export interface Batch {
  x: Tensor;
  y: Tensor;
}

/** mulberry32: a small deterministic 32-bit generator for window offsets (not for weights: those use Philox). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds the batch whose windows start at the given offsets. */
export function batchAt(ids: Int32Array, starts: readonly number[], seq: number, device?: Device): Batch {
  const x = new Int32Array(starts.length * seq), y = new Int32Array(starts.length * seq);
  starts.forEach((s, i) => {
    if (!(Number.isInteger(s) && s >= 0 && s + seq + 1 <= ids.length)) fail('batchAt', `window start ${s} does not fit ${ids.length} tokens with seq ${seq}`);
    x.set(ids.subarray(s, s + seq), i * seq);
    y.set(ids.subarray(s + 1, s + seq + 1), i * seq);
  });
  const shape = [starts.length, seq];
  return { x: tensor(x, { shape, device }), y: tensor(y, { shape, device }) };
}

/** Random windows of `seq` tokens from ids, reproducible from the seed. */
export class BatchSampler {
  private readonly random: () => number;

  constructor(readonly ids: Int32Array, readonly batch: number, readonly seq: number, seed: number) {
    if (ids.length < seq + 1) fail('BatchSampler', `${ids.length} tokens cannot fill a window of ${seq} + 1`);
    this.random = mulberry32(seed);
  }

  /** The next window starts (b of them). */
  nextStarts(): number[] {
    return Array.from({ length: this.batch }, () => Math.floor(this.random() * (this.ids.length - this.seq)));
  }

  next(device?: Device): Batch {
    return batchAt(this.ids, this.nextStarts(), this.seq, device);
  }
}

/** Evenly spaced window starts covering ids: the fixed evaluation set (the same for every run). */
export function evalStarts(ids: Int32Array, seq: number, windows: number): number[] {
  const span = ids.length - seq - 1;
  if (span < 0) fail('evalStarts', `${ids.length} tokens cannot fill a window of ${seq} + 1`);
  return Array.from({ length: windows }, (_, i) => Math.floor((i * span) / Math.max(1, windows - 1)));
}
