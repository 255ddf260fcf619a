import { noGrad } from '../autograd/grad-mode.ts';
import { cast } from '../autograd/ops/cast.ts';
import { withModule } from '../autograd/saved.ts';
import { scope } from '../autograd/scope.ts';
import { isTensor } from '../autograd/tensor-class.ts';
import { isFloat } from '../dtype.ts';
import { describe, describeValue, fail } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { addHook, callWithHooks, type ForwardHook, type FullBackwardHook, type HookHandle } from './hooks.ts';

/**
 * Base of every layer, in the spirit of torch.nn.Module:
 * - parameters (trainable or frozen weights) and buffers (constants such as a causal mask)
 *   are registered by name; both are marked `isParameter`, so saving them for backward costs
 *   no activation bytes;
 * - child modules are registered by name, and each child's `forward` runs inside a module
 *   scope named by its path (`blocks.0.attn.q`), so `measureSaved` attributes bytes to it;
 * - forward and backward hooks observe a module's calls (hooks.ts), as in PyTorch;
 * - `train()` / `eval()` set the mode (dropout), `freeze()` / `unfreeze()` set requiresGrad.
 */
export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  /** Buffers left out of stateDict (derived constants such as a causal mask). */
  private readonly transientBuffers = new Set<string>();
  private readonly children = new Map<string, Module>();
  /** The name this module's parent registered it under ('' for a root): its calls run in that module scope. */
  private scopeName = '';
  private readonly forwardHooks: ForwardHook[] = [];
  private readonly backwardHooks: FullBackwardHook[] = [];

  abstract forward(...args: never[]): Tensor;

  constructor() {
    // Every call of the subclass's forward goes through the module scope and the hooks. (The
    // subclass's method is already on `this` here: the prototype chain exists before constructors run.)
    const self = this as unknown as { forward: (...args: unknown[]) => Tensor };
    const forward = self.forward;
    self.forward = (...args: unknown[]) => {
      const call = () => callWithHooks(this, (a) => forward.apply(this, a), args, this.forwardHooks, this.backwardHooks);
      return this.scopeName ? withModule(this.scopeName, call) : call();
    };
  }

  /** hook(module, inputs, output) after every forward call; a tensor it returns replaces the output. */
  registerForwardHook(hook: ForwardHook): HookHandle {
    return addHook(this.forwardHooks, hook);
  }

  /** hook(module, gradInputs, gradOutputs) once per backward through each call (see hooks.ts). */
  registerFullBackwardHook(hook: FullBackwardHook): HookHandle {
    return addHook(this.backwardHooks, hook);
  }

  protected registerParameter(name: string, t: Tensor): Tensor {
    t.isParameter = true;
    t.name = name;
    this.params.set(name, t);
    return t;
  }

  /** A constant of the module; `persistent: false` keeps it out of stateDict (it is rebuilt by the constructor). */
  protected registerBuffer(name: string, t: Tensor, options: { persistent?: boolean } = {}): Tensor {
    t.isParameter = true;
    t.requiresGrad = false;
    t.name = name;
    this.buffers.set(name, t);
    if (options.persistent === false) this.transientBuffers.add(name);
    else this.transientBuffers.delete(name);
    return t;
  }

  /**
   * Registers child under name and scopes its forward calls to that name. Registering a module
   * again (e.g. an adapter wrapping the layer it replaces) renames its scope, so paths never nest twice.
   */
  protected registerModule<M extends Module>(name: string, child: M): M {
    this.children.set(name, child);
    child.scopeName = name;
    return child;
  }

  /** Replaces a registered child (used to inject adapters); the new child is scoped like the old one. */
  replaceModule(name: string, child: Module): void {
    if (!this.children.has(name)) fail('replaceModule', `no child module named '${name}'; children are ${[...this.children.keys()].join(', ') || '(none)'}`);
    this.registerModule(name, child);
    (this as unknown as Record<string, unknown>)[name] = child;
  }

  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  /** Every module below this one with its dotted path (this one first, as ''). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.children) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.params].map(([n, t]) => [prefix ? `${prefix}.${n}` : n, t]);
    for (const [name, child] of this.children) out.push(...child.namedParameters(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.buffers].map(([n, t]) => [prefix ? `${prefix}.${n}` : n, t]);
    for (const [name, child] of this.children) out.push(...child.namedBuffers(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /**
   * Parameters and persistent buffers by dotted path (`blocks.0.attn.q.weight`), as
   * torch's state_dict: the tensors themselves, not copies.
   */
  stateDict(prefix = ''): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const join = (n: string) => (prefix ? `${prefix}.${n}` : n);
    for (const [n, t] of this.params) out[join(n)] = t;
    for (const [n, t] of this.buffers) if (!this.transientBuffers.has(n)) out[join(n)] = t;
    for (const [name, child] of this.children) Object.assign(out, child.stateDict(join(name)));
    return out;
  }

  /**
   * Copies values into this module's parameters and buffers in place (versions bump), all or
   * nothing: every entry is checked first (each source must match its target's shape and device;
   * another float dtype is converted), and only then is anything assigned. With strict (default),
   * a missing or unexpected name is an error; otherwise they are returned.
   */
  loadStateDict(state: Record<string, Tensor>, options: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const has = (o: object, n: string) => Object.hasOwn(o, n); // names are data: 'constructor' is not a key of {}
    const missing = Object.keys(own).filter((n) => !has(state, n));
    const unexpected = Object.keys(state).filter((n) => !has(own, n));
    if ((options.strict ?? true) && (missing.length || unexpected.length)) {
      fail('loadStateDict', `names differ: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]; expected exactly the names of stateDict()`);
    }
    const pairs = Object.entries(own).filter(([name]) => has(state, name)).map(([name, target]) => [name, target, state[name]!] as const);
    for (const [name, target, src] of pairs) {
      if (!isTensor(src)) fail('loadStateDict', `'${name}' is ${describeValue(src)}; expected a Tensor`);
      src.assertAlive('loadStateDict');
      if (src.shape.length !== target.shape.length || src.shape.some((d, i) => d !== target.shape[i]) || src.device !== target.device) {
        fail('loadStateDict', `'${name}': ${describe('source', src)} does not fit ${describe('target', target)}; expected the same shape and device (nothing was loaded)`);
      }
      if (!isFloat(src.dtype) && isFloat(target.dtype)) {
        fail('loadStateDict', `'${name}': ${describe('source', src)} is not floating point; expected ${target.dtype} (nothing was loaded)`);
      }
    }
    noGrad(() => {
      for (const [, target, src] of pairs) {
        const value = src.dtype === target.dtype ? src : cast(src, target.dtype);
        target.assign(value);
        if (value !== src) value.dispose();
      }
    });
    return { missing, unexpected };
  }

  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  /** Number of parameter elements (all, or only those that require grad). */
  numParameters(options: { trainable?: boolean } = {}): number {
    return (options.trainable ? this.trainableParameters() : this.parameters()).reduce((n, p) => n + p.size, 0);
  }

  freeze(): this {
    for (const p of this.parameters()) p.requiresGrad = false;
    return this;
  }

  unfreeze(): this {
    for (const p of this.parameters()) p.requiresGrad = true;
    return this;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Frees every parameter (and its gradient) and buffer; the module cannot be used afterwards.
   * Each child's own dispose() runs first, so a layer holding more (an adapter's cached
   * Cholesky factor) frees it too.
   */
  dispose(): void {
    for (const child of this.children.values()) child.dispose();
    for (const t of [...this.params.values(), ...this.buffers.values()]) {
      t.grad?.dispose();
      t.grad = null;
      t.dispose();
    }
  }

  /** Sets every parameter's .grad to null (freeing it). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
}

/**
 * Builds a module inside a scope: temporaries of its initialisation (random draws, scalings)
 * are freed at once instead of waiting for the garbage collector; its parameters and buffers
 * are kept. `const model = buildModule(() => new GPT(config))`.
 */
export function buildModule<M extends Module>(make: () => M): M {
  return scope(() => {
    const module = make();
    return { module, tensors: [...module.parameters(), ...module.namedBuffers().map(([, b]) => b)] };
  }).module;
}

/** Throws unless x's last axis has the expected size. */
export function checkFeatures(op: string, x: Tensor, features: number): void {
  if (x.rank < 1 || x.shape[x.rank - 1] !== features) {
    fail(op, `${describe('x', x)} does not fit: expected the last axis to have ${features} features`);
  }
}
