/**
 * Module hooks, as PyTorch's register_forward_hook and register_full_backward_hook: code that
 * observes (or, forward, replaces) what a module computes without changing the module.
 *
 *   forward hook   hook(module, inputs, output) after each forward call; returning a tensor
 *                  makes it the call's output.
 *   backward hook  hook(module, gradInputs, gradOutputs) once per backward through a call:
 *                  gradOutputs = [∂L/∂output]; gradInputs[i] = ∂L/∂inputs[i] for each tensor input
 *                  that requires grad, null for the others. It observes: what it returns is ignored.
 *
 * Backward hooks work through `tap` ops: identity ops on the call's inputs and output whose backward
 * hands the gradient flowing through to a callback. They save nothing and exist only while a
 * backward hook is registered. The gradients a hook receives belong to the engine and are freed
 * after the hook returns, as are tensors the hook creates — unless it keeps them with `keep()`.
 */
import { Function, type Context } from '../autograd/function.ts';
import { isGradEnabled } from '../autograd/grad-mode.ts';
import { keep } from '../autograd/scope.ts';
import { isTensor } from '../autograd/tensor-class.ts';
import { view } from '../autograd/ops/util.ts';
import type { Tensor } from '../tensor.ts';
import type { Module } from './module.ts';

export type ForwardHook = (module: Module, inputs: readonly unknown[], output: Tensor) => Tensor | void;
export type FullBackwardHook = (module: Module, gradInputs: readonly (Tensor | null)[], gradOutputs: readonly Tensor[]) => void;

export interface HookHandle {
  /** Unregisters the hook (a second call does nothing). */
  remove(): void;
}

/** Adds hook to list; the handle removes it. */
export function addHook<H>(list: H[], hook: H): HookHandle {
  list.push(hook);
  return {
    remove: () => {
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
    },
  };
}

/**
 * Forward: y = x (a view of x's storage).
 * Backward: dx = g, after onGrad(g) has seen it.
 * Saves: nothing.
 */
class Tap extends Function {
  static override readonly opName = 'tap';
  static override forward(ctx: Context<{ onGrad: (g: Tensor) => void }>, x: Tensor, onGrad: (g: Tensor) => void): Tensor {
    ctx.meta = { onGrad };
    return view(x, x.shape);
  }
  static override backward(ctx: Context<{ onGrad: (g: Tensor) => void }>, g: Tensor) {
    ctx.meta.onGrad(g);
    return [g, null];
  }
}

/**
 * Calls forward(args) for module with its hooks: inputs tapped for the backward hooks (when there
 * are any and a graph is recorded), the forward hooks in registration order, then the output tapped.
 */
export function callWithHooks(
  module: Module, forward: (args: unknown[]) => Tensor, args: unknown[],
  forwardHooks: readonly ForwardHook[], backwardHooks: readonly FullBackwardHook[],
): Tensor {
  if (backwardHooks.length === 0 || !isGradEnabled()) return runForwardHooks(module, forward(args), args, forwardHooks);
  // The backward hooks fire once the output's gradient and every tapped input's gradient have
  // arrived. The engine frees a gradient once it has passed it on, so each is held through an
  // alias of its storage until then.
  const gradInputs: (Tensor | null)[] = args.map(() => null);
  let gradOutput: Tensor | null = null;
  let pending = 0;
  const arrived = (g: Tensor): Tensor => keep(g.detach());
  const fire = () => {
    if (pending > 0 || !gradOutput) return;
    for (const hook of [...backwardHooks]) hook(module, gradInputs, [gradOutput]);
    for (const g of [gradOutput, ...gradInputs]) g?.dispose();
  };
  const inputs = args.map((a, i) => {
    if (!isTensor(a) || !a.requiresGrad) return a;
    pending++;
    return Tap.apply(a, (g: Tensor) => {
      gradInputs[i] = arrived(g);
      pending--;
      fire();
    });
  });
  const result = runForwardHooks(module, forward(inputs), args, forwardHooks);
  const output = Tap.apply(result, (g: Tensor) => {
    gradOutput = arrived(g);
    fire();
  });
  // the taps' own handles: the graph keeps what backward needs
  for (const t of new Set([...inputs.filter((t, i) => t !== args[i]), result])) if (!args.includes(t)) (t as Tensor).dispose();
  return output;
}

function runForwardHooks(module: Module, output: Tensor, args: readonly unknown[], hooks: readonly ForwardHook[]): Tensor {
  for (const hook of [...hooks]) output = hook(module, args, output) ?? output;
  return output;
}
