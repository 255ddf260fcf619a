import type { Tensor } from '../tensor.ts';
import { describe, describeValue, fail, fmtShape } from '../errors.ts';
import { getRandomState, setRandomState } from '../random.ts';
import { isGradEnabled, withGradMode } from './grad-mode.ts';
import { duringRecompute } from './op-events.ts';
import { autocastDtype, withAutocastState } from './autocast.ts';
import { currentModule, currentModulePath, recordRecomputed, withModulePath } from './saved.ts';
import { KeptSlot, packSaved, withPacker, type SavedSlot, type SavePacker } from './saved-tensors.ts';
import { scope } from './scope.ts';
import { isTensor, newTensor } from './tensor-class.ts';

/**
 * Activation checkpointing, as torch.utils.checkpoint without reentrance:
 *
 *   y = checkpoint(fn, ...inputs)                 keep only the inputs; recompute everything else
 *   y = selectiveCheckpoint(policy, fn, ...inputs) the policy decides per saved tensor
 *
 * Forward runs fn once, recording the graph as usual, but every tensor an op inside fn saves for
 * backward goes through this checkpoint's packer (saved-tensors.ts): the policy either keeps it
 * (counted by measureSaved as always) or drops it, leaving a slot that remembers its position
 * (the k-th save inside fn). The inputs are kept (saved under op 'checkpoint'). When backward
 * first unpacks a dropped slot, fn runs again on the kept inputs with the random generator and
 * module path as they were at the first call, so dropout draws the same masks and every op
 * computes the same values; the k-th save of that run fills slot k, the rest is freed at once.
 * Backward then runs through the original graph: gradients are bitwise those of the run without
 * checkpointing. Once every dropped slot is released the inputs are let go.
 *
 * Memory (per call, float32, what measureSaved reports after forward):
 *   full:       Σ bytes of the non-parameter inputs
 *   selective:  the inputs ∪ the saves the policy keeps (one storage counted once)
 * In backward the dropped tensors are held again from the recomputation until their op's backward.
 *
 * Nested checkpoints work: an inner checkpoint's inputs are saves of the outer one, recomputed
 * by the outer recomputation. Under noGrad fn just runs. fn must be deterministic given its
 * inputs, the parameters and the random generator, and must get every non-parameter tensor it
 * uses through `inputs` (a tensor from its closure may be disposed before backward recomputes).
 */

/** What a policy sees of one save inside a checkpointed fn. */
export interface SaveInfo {
  /** The op saving the tensor, and its module path. */
  op: string;
  module: string;
  shape: readonly number[];
  /** The op that computed the tensor: the saving op itself for what its forward made (softmax's output), an input's producer, null for a leaf. */
  producer: string | null;
  /** Position of the save among fn's saves (0, 1, ...). */
  index: number;
}

/** 'keep' holds the tensor from forward to backward; 'recompute' drops it and recomputes it in backward. */
export type CheckpointPolicy = (save: SaveInfo) => 'keep' | 'recompute';

/** Full checkpointing: nothing but the inputs is kept. */
export const recomputeEverything: CheckpointPolicy = () => 'recompute';

/**
 * Producers of what `recomputeAttentionScores` drops: the softmax output P and its dropped copy,
 * the b·h·s² tensors of attention (Korthikanti et al.'s selective recomputation). Q, K, V and the
 * other matmul inputs (b·s·d sized) are kept.
 */
const ATTENTION_SCORE_PRODUCERS = new Set(['softmax', 'dropout', 'maskedFill']);

/** Selective checkpointing: recompute attention scores, softmax and their dropout; keep the rest. */
export const recomputeAttentionScores: CheckpointPolicy = (s) => (s.producer !== null && ATTENTION_SCORE_PRODUCERS.has(s.producer) ? 'recompute' : 'keep');

/** Runs fn(...inputs) keeping only its inputs for backward (full activation checkpointing). */
export function checkpoint<A extends unknown[]>(fn: (...inputs: A) => Tensor, ...inputs: A): Tensor {
  return runCheckpoint('checkpoint', recomputeEverything, fn, inputs);
}

/** Runs fn(...inputs) keeping its inputs and the saves `policy` keeps; the others are recomputed in backward. */
export function selectiveCheckpoint<A extends unknown[]>(policy: CheckpointPolicy, fn: (...inputs: A) => Tensor, ...inputs: A): Tensor {
  if (typeof policy !== 'function') fail('selectiveCheckpoint', `policy is ${describeValue(policy)}; expected a function (save) => 'keep' | 'recompute'`);
  return runCheckpoint('selectiveCheckpoint', policy, fn, inputs);
}

function runCheckpoint<A extends unknown[]>(op: string, policy: CheckpointPolicy, fn: (...inputs: A) => Tensor, inputs: A): Tensor {
  if (typeof fn !== 'function') fail(op, `fn is ${describeValue(fn)}; expected a function returning a Tensor`);
  let first: Tensor | null = null;
  for (const [i, a] of inputs.entries()) {
    if (!isTensor(a)) continue;
    a.assertAlive(op);
    if (first && a.device !== first.device) {
      fail(op, `inputs are on different devices: ${describe('input 0', first)} and ${describe(`input ${i}`, a)}; expected one device`);
    }
    first ??= a;
  }
  if (!isGradEnabled()) return checkOutput(op, fn(...inputs));
  const frame = new Frame(op, policy, fn as (...inputs: unknown[]) => Tensor, inputs);
  let out: Tensor;
  try {
    out = withPacker(frame, () => fn(...inputs));
  } catch (e) {
    frame.releaseInputs();
    throw e;
  }
  if (!isTensor(out)) {
    frame.releaseInputs();
    checkOutput(op, out);
  }
  frame.forwardDone();
  return out;
}

function checkOutput(op: string, out: unknown): Tensor {
  if (!isTensor(out)) fail(op, `fn returned ${describeValue(out)}; expected a Tensor`);
  return out;
}

/** One checkpointed call: its inputs, the positions of the saves it dropped, and their recomputed values. */
class Frame implements SavePacker {
  private mode: 'forward' | 'recompute' = 'forward';
  /** Saves seen so far in the current run of fn (the position of the next one). */
  private saves = 0;
  /** Dropped saves by position: their shape and op, so the recomputation can be checked. */
  private readonly dropped = new Map<number, { shape: readonly number[]; op: string }>();
  private readonly recomputed = new Map<number, SavedSlot>();
  private unreleased = 0;
  private recomputedOnce = false;
  private inputSlots: (SavedSlot | null)[];
  private readonly inputFlags: { requiresGrad: boolean; parameter: boolean }[];
  private readonly random = getRandomState();
  private readonly modulePath = currentModulePath();
  /** The autocast state of the first run (the recomputation runs fn under it again). */
  private readonly autocast = autocastDtype();

  /** The non-tensor arguments (tensor arguments are held by their slots only). */
  private readonly others: unknown[];

  constructor(private readonly op: string, private readonly policy: CheckpointPolicy, private readonly fn: (...inputs: unknown[]) => Tensor, inputs: unknown[]) {
    // the inputs are saves of whatever encloses this call (an outer checkpoint may drop them)
    this.inputSlots = inputs.map((a) => (isTensor(a) ? packSaved(a, op, currentModule(), a.gradFn?.opName ?? null) : null));
    this.others = inputs.map((a) => (isTensor(a) ? null : a));
    this.inputFlags = inputs.map((a) => (isTensor(a) ? { requiresGrad: a.requiresGrad, parameter: a.isParameter } : { requiresGrad: false, parameter: false }));
  }

  pack(t: Tensor, op: string, module: string, producer: string | null): SavedSlot {
    const index = this.saves++;
    if (this.mode === 'recompute') {
      const want = this.dropped.get(index);
      if (want && !this.recomputed.has(index)) {
        if (want.op !== op || want.shape.length !== t.shape.length || want.shape.some((n, i) => n !== t.shape[i])) {
          fail(this.op, `recomputing fn in backward, save ${index} was ${op} ${fmtShape(t.shape)} where the first run saved ${want.op} ${fmtShape(want.shape)}; ` +
            'expected fn to run the same ops on the same shapes (no control flow on anything but its inputs)');
        }
        this.recomputed.set(index, new KeptSlot(t, op, module));
      }
      return DISCARDED;
    }
    if (t.isParameter) return new KeptSlot(t, op, module);
    const decision = this.policy({ op, module, shape: t.shape, producer, index });
    if (decision !== 'keep' && decision !== 'recompute') {
      fail(this.op, `the policy returned ${describeValue(decision)} for ${op}'s save of ${fmtShape(t.shape)} in '${module}'; expected 'keep' or 'recompute'`);
    }
    if (decision === 'keep') return new KeptSlot(t, op, module);
    recordRecomputed(t.storage, [...t.shape], op, module);
    this.dropped.set(index, { shape: [...t.shape], op });
    this.unreleased++;
    return this.droppedSlot(index);
  }

  /** After the first run: with nothing dropped, the inputs are not needed for backward. */
  forwardDone(): void {
    if (this.unreleased === 0) this.releaseInputs();
  }

  releaseInputs(): void {
    for (const s of this.inputSlots) s?.release();
    this.inputSlots = [];
  }

  private droppedSlot(index: number): SavedSlot {
    let released = false;
    return {
      unpack: () => {
        if (!this.recomputedOnce) this.recompute();
        const slot = this.recomputed.get(index);
        if (!slot) fail(this.op, `recomputing fn in backward made no save ${index} (the first run saved ${this.dropped.get(index)!.op}); expected fn to run the same ops again`);
        return slot.unpack();
      },
      release: () => {
        if (released) return;
        released = true;
        this.recomputed.get(index)?.release();
        this.recomputed.delete(index);
        if (--this.unreleased === 0) this.releaseInputs();
      },
    };
  }

  /** Runs fn again on the kept inputs, as it ran first, keeping only the saves forward dropped. */
  private recompute(): void {
    const generator = getRandomState();
    try {
      scope(() => {
        // fresh handles on the kept inputs, flagged as the originals were (freed with the recomputation)
        const values = this.others.map((a, i) => {
          const slot = this.inputSlots[i];
          if (!slot) return a;
          const saved = slot.unpack(); // may first recompute an enclosing checkpoint
          saved.storage.retain();
          return newTensor(saved.storage, saved.shape, this.inputFlags[i]);
        });
        setRandomState(this.random);
        this.mode = 'recompute';
        this.saves = 0;
        withModulePath(this.modulePath, () => withGradMode(true, () => withPacker(this, () => duringRecompute(() => withAutocastState(this.autocast, () => this.fn(...values))))));
      });
    } finally {
      setRandomState(generator);
    }
    this.recomputedOnce = true;
  }
}

/** The slot given to the recomputation's own graph, which is dropped without backward. */
const DISCARDED: SavedSlot = {
  unpack: () => fail('checkpoint', 'a recomputation graph was used for backward; it exists only to refill dropped saves'),
  release: () => {},
};
