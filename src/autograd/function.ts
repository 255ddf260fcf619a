import type { Tensor } from '../tensor.ts';
import { isTensor } from './tensor-class.ts';
import { describe, fail } from '../errors.ts';
import { isGradEnabled, withGradMode } from './grad-mode.ts';
import { checkFinite, isAnomalyDetectionEnabled } from './anomaly.ts';
import { currentModule } from './saved.ts';
import { currentPacker, KeptSlot, type SavedSlot, type SavedTensorInfo } from './saved-tensors.ts';
import { emitOp } from './op-events.ts';

/**
 * The autograd node of one op application, as PyTorch's ctx:
 * - `needsInputGrad[i]`: whether argument i of forward is a tensor that needs a gradient;
 *   forward saves only what those gradients require.
 * - `saveForBackward(...)`: the only way tensors reach backward (so their bytes are counted).
 * - `meta`: non-tensor data for backward (shapes, flags, seeds), typed per op.
 */
export class Context<M = Record<string, unknown>> {
  meta = {} as M;
  /** Inputs that need a gradient: their gradFn (non-leaf) or the leaf itself; null elsewhere. */
  readonly edges: ({ gradFn: Context } | { leaf: Tensor } | null)[];
  private saved: (SavedSlot | null)[] = [];
  /** The shape of the op's output (set by apply when the op records; the output's own shape array). */
  outputShape: readonly number[] = [];
  private released = false;
  /** Whether this context still holds the contexts of its inputs (dropped once, when no one holds it). */
  private holdsInputs = true;
  /** Holders of this context: its output tensor and the later contexts that consume that output. */
  private consumers = 0;
  readonly recording: boolean;

  constructor(
    readonly fn: FunctionClass,
    readonly needsInputGrad: readonly boolean[],
    args: readonly unknown[],
    readonly module: string,
  ) {
    this.recording = needsInputGrad.some(Boolean);
    this.edges = args.map((a, i) => {
      if (!needsInputGrad[i]) return null;
      const t = a as Tensor;
      return t.gradFn ? { gradFn: t.gradFn } : { leaf: t };
    });
    if (this.recording) for (const e of this.edges) if (e && 'gradFn' in e) e.gradFn.retain();
  }

  get opName(): string {
    return this.fn.opName;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** What this context keeps for backward now (graph.ts): the kept slots, not those a checkpoint recomputes; nothing once released. */
  get savedInfos(): SavedTensorInfo[] {
    return this.saved.flatMap((slot) => (slot instanceof KeptSlot ? [slot.info] : []));
  }

  /**
   * Keeps tensors for backward (null keeps a slot empty), each through a slot (saved-tensors.ts):
   * its own alias of the storage, so disposing the original handle does not break backward, or,
   * under activation checkpointing, a promise to recompute it. Does nothing when no input needs
   * a gradient.
   */
  saveForBackward(...tensors: (Tensor | null)[]): void {
    if (!this.recording) return;
    const packer = currentPacker();
    for (const t of tensors) {
      if (t === null) this.saved.push(null);
      else this.saved.push(packer ? packer.pack(t, this.opName, this.module, this.producerOf(t)) : new KeptSlot(t, this.opName, this.module));
    }
  }

  /** The arguments while forward runs (cleared after, so the context does not keep their handles alive). */
  forwardArgs: readonly unknown[] | null = null;

  /**
   * The op that computed t: an input's own producer (null for a leaf), or this op for what its
   * forward made. Casts are looked through (autocast's 16-bit copy of softmax's output was
   * produced, for a checkpoint policy, by softmax).
   */
  private producerOf(t: Tensor): string | null {
    for (const a of this.forwardArgs ?? []) {
      if (!isTensor(a) || a.storage !== t.storage) continue;
      let ctx: Context | null = a.gradFn;
      while (ctx?.opName === 'cast') {
        const e = ctx.edges[0];
        ctx = e && 'gradFn' in e ? e.gradFn : null;
      }
      return ctx?.opName ?? null;
    }
    return this.opName;
  }

  /** The saved tensors, in save order; throws if the graph was freed or a tensor changed in place. */
  get savedTensors(): (Tensor | null)[] {
    this.assertLive();
    return this.saved.map((slot) => slot?.unpack() ?? null);
  }

  /** Throws if backward reaches this context after its graph was freed. */
  assertLive(): void {
    if (this.released) {
      fail(this.opName, 'backward through a graph that was already freed (by an earlier backward, or because its output was disposed); ' +
        'pass { retainGraph: true } to the first backward() to backpropagate through it again');
    }
  }

  retain(): void {
    this.consumers++;
  }

  /** Drops one holder; with none left, nothing can backpropagate through this context: release it. */
  unref(): void {
    if (--this.consumers <= 0) this.release();
  }

  /**
   * Frees the saved tensors. `cascade` also drops this context's hold on the contexts of its
   * inputs, releasing those no one else holds (a graph dropped without backward); backward
   * releases each context itself as it passes, so it does not cascade. The cascade walks a work
   * list, not the call stack: dropping the output of a chain of a million ops releases them all.
   */
  release(cascade = true): void {
    const work: Context<unknown>[] = [this];
    for (let ctx = work.pop(); ctx; ctx = work.pop()) {
      if (!ctx.released) {
        ctx.released = true;
        for (const slot of ctx.saved) slot?.release(); // untracked aliases without a graph: no recursion
        ctx.saved = [];
      }
      // a context backward released (without cascade) still holds its inputs' contexts: those a
      // failed backward never reached are released here, when the last holder lets go
      if ((ctx !== this || cascade) && ctx.holdsInputs) {
        ctx.holdsInputs = false;
        for (const e of ctx.edges) if (e && 'gradFn' in e && --e.gradFn.consumers <= 0) work.push(e.gradFn);
      }
    }
  }
}

export interface FunctionClass {
  readonly opName: string;
  forward(ctx: Context<any>, ...args: any[]): Tensor;
  backward(ctx: Context<any>, gradOut: Tensor): (Tensor | null | undefined)[];
}

type Tail<T extends unknown[]> = T extends [unknown, ...infer R] ? R : never;

/**
 * Base of every differentiable op. A subclass defines `static opName`, `static forward(ctx, ...args)`
 * and `static backward(ctx, gradOut)` returning one gradient per forward argument (null where
 * none is needed), and is called through `Op.apply(...args)`.
 */
export abstract class Function {
  static readonly opName: string = 'function';

  static forward(_ctx: Context<any>, ..._args: any[]): Tensor {
    throw new Error(`${this.opName}: forward is not implemented`);
  }

  static backward(_ctx: Context<any>, _gradOut: Tensor): (Tensor | null | undefined)[] {
    throw new Error(`${this.opName}: backward is not implemented`);
  }

  static apply<F extends FunctionClass>(this: F, ...args: Tail<Parameters<F['forward']>>): Tensor {
    const op = this.opName;
    let device: Tensor | null = null;
    for (const a of args) {
      if (!isTensor(a)) continue;
      a.assertAlive(op);
      if (device && a.device !== device.device) {
        fail(op, `inputs are on different devices: ${describe('', device).trim()} and ${describe('', a).trim()}; ` +
          'expected one device (move tensors with `await t.to(device)`)');
      }
      device ??= a;
    }
    const grad = isGradEnabled();
    const needs = args.map((a) => grad && isTensor(a) && a.requiresGrad);
    const ctx = new Context(this, needs, args, currentModule());
    let out: Tensor;
    ctx.forwardArgs = args;
    try {
      out = withGradMode(false, () => this.forward(ctx, ...args));
    } catch (e) {
      ctx.release();
      throw e;
    } finally {
      ctx.forwardArgs = null;
    }
    if (isAnomalyDetectionEnabled()) {
      try {
        checkFinite('forward', op, ctx.module, [out], args);
      } catch (e) {
        out.dispose();
        ctx.release();
        throw e;
      }
    }
    if (ctx.recording) {
      out.requiresGrad = true;
      out.gradFn = ctx;
      ctx.outputShape = out.shape;
    }
    emitOp(op, ctx.module, out.backend);
    return out;
  }
}
