import type { Storage } from '../backends/backend.ts';
import type { Tensor } from '../tensor.ts';
import { newTensor } from './tensor-class.ts';
import { describe, fail, fmtShape } from '../errors.ts';
import { contiguousStrides, sameShape } from '../shape.ts';
import type { Context } from './function.ts';
import { checkFinite, isAnomalyDetectionEnabled } from './anomaly.ts';
import { withGradMode } from './grad-mode.ts';
import { keep, scope } from './scope.ts';
import { duringBackward, emitBackwardStep } from './op-events.ts';

export interface BackwardOptions {
  /** Keep the saved tensors so backward can run through this graph again. */
  retainGraph?: boolean;
}

/**
 * Reverse-mode differentiation from `root`:
 * 1. order the graph's contexts so each comes after every context that consumes its output;
 * 2. walk them, calling each op's backward with the summed gradient of its output;
 * 3. route each input gradient to the producing context, or accumulate it into a leaf's `.grad`.
 * Saved tensors are released right after their op's backward unless retainGraph is set, so
 * saved bytes fall back to zero. Gradients are computed without recording a graph.
 */
export function runBackward(root: Tensor, gradient: Tensor | undefined, options: BackwardOptions): void {
  root.assertAlive('backward');
  if (!root.requiresGrad) {
    fail('backward', `${describe('tensor', root)} does not require grad and has no gradFn; ` +
      'expected an output of ops on tensors created with { requiresGrad: true }');
  }
  if (gradient) {
    gradient.assertAlive('backward');
    if (!sameShape(gradient.shape, root.shape) || gradient.dtype !== root.dtype || gradient.device !== root.device) {
      fail('backward', `${describe('gradient', gradient)} does not match ${describe('output', root)}; expected the same shape, dtype and device`);
    }
  }
  // the engine owns every gradient it holds: a caller's gradient is copied, so a pass-through
  // op (add, reshape) never hands the caller's tensor to a leaf's .grad
  const seed = gradient ? copyOf(gradient) : defaultGradient(root);
  duringBackward(() => withGradMode(false, () => {
    if (!root.gradFn) {
      accumulateLeaf(root, seed);
      return;
    }
    const order = forwardOrder(root.gradFn).reverse(); // each context after all of its consumers
    const grads = new Map<Context, Tensor>([[root.gradFn, seed]]);
    for (const ctx of order) {
      const g = grads.get(ctx);
      if (!g) continue; // no gradient reached this node
      grads.delete(ctx);
      ctx.assertLive();
      // intermediates of the op's backward are freed by the scope; the returned gradients survive it
      const inputGrads = scope(() => ctx.fn.backward(ctx, g));
      if (isAnomalyDetectionEnabled()) {
        try {
          checkFinite('backward', ctx.opName, ctx.module, inputGrads, [g, ...ctx.savedTensors]);
        } catch (e) {
          for (const t of new Set([g, ...inputGrads])) t?.dispose();
          throw e;
        }
      }
      if (!options.retainGraph) ctx.release(false); // upstream contexts are released when reached
      // a backward may return g itself (add) or one storage for several inputs (add of equal
      // shapes): each storage is handed on once, a later input gets a copy
      const handedOn = new Set<Tensor>();
      const storages = new Set<Storage>();
      ctx.edges.forEach((edge, i) => {
        let gi = inputGrads[i];
        if (!edge) return;
        if (!gi) fail(ctx.opName, `backward returned no gradient for input ${i}, which needs one`);
        if (storages.has(gi.storage)) gi = copyOf(gi);
        handedOn.add(gi);
        storages.add(gi.storage);
        if ('leaf' in edge) {
          checkGradShape(ctx, i, gi, edge.leaf.shape);
          accumulateLeaf(edge.leaf, gi);
        } else {
          const prev = grads.get(edge.gradFn);
          grads.set(edge.gradFn, prev ? addOwned(prev, gi) : gi);
        }
      });
      for (const t of [g, ...inputGrads]) if (t && !handedOn.has(t)) t.dispose();
      emitBackwardStep(ctx.opName, ctx.module, root.backend);
    }
  }));
}

function defaultGradient(root: Tensor): Tensor {
  if (root.size !== 1) {
    fail('backward', `${describe('output', root)} is not a scalar; pass a gradient of the same shape (e.g. y.backward(ones(y.shape)))`);
  }
  return newTensor(root.backend.kernels.full(root.dtype, 1, 1), root.shape);
}

/** Contexts reachable from root, each after every context that feeds it: forward order (iterative post-order DFS). */
export function forwardOrder(root: Context): Context[] {
  const visited = new Set<Context>([root]);
  const post: Context[] = [];
  const stack: { ctx: Context; next: number }[] = [{ ctx: root, next: 0 }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.ctx.edges.length) {
      const edge = top.ctx.edges[top.next++];
      if (edge && 'gradFn' in edge && !visited.has(edge.gradFn)) {
        visited.add(edge.gradFn);
        stack.push({ ctx: edge.gradFn, next: 0 });
      }
    } else {
      post.push(top.ctx);
      stack.pop();
    }
  }
  return post;
}

function copyOf(t: Tensor): Tensor {
  return newTensor(t.backend.kernels.gatherStrided(t.storage, { shape: t.shape, strides: contiguousStrides(t.shape), offset: 0 }), t.shape);
}

/** prev + g, disposing both. */
function addOwned(prev: Tensor, g: Tensor): Tensor {
  const sum = newTensor(g.backend.kernels.binary('add', prev.storage, prev.shape, g.storage, g.shape, g.shape), g.shape);
  prev.dispose();
  g.dispose();
  return sum;
}

/** leaf.grad += g; g is adopted or disposed. Gradients survive scopes. */
function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (!leaf.requiresGrad) {
    g.dispose();
    return;
  }
  if (leaf.grad && !leaf.grad.isDisposed) {
    // in place, so a reference to .grad taken before this backward stays valid (as in PyTorch)
    const sum = newTensor(g.backend.kernels.binary('add', leaf.grad.storage, leaf.grad.shape, g.storage, g.shape, g.shape), g.shape);
    leaf.grad.assign(sum);
    sum.dispose();
    g.dispose();
  } else {
    leaf.grad = keep(g);
  }
}

function checkGradShape(ctx: Context, i: number, g: Tensor, shape: readonly number[]): void {
  if (!sameShape(g.shape, shape)) {
    fail(ctx.opName, `backward produced a gradient of shape ${fmtShape(g.shape)} for input ${i} of shape ${fmtShape(shape)}`);
  }
}
