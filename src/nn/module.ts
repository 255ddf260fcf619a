import { withModule } from '../autograd/saved.ts';
import { describe, fail } from '../errors.ts';
import type { Tensor } from '../tensor.ts';

/**
 * Base of every layer, in the spirit of torch.nn.Module:
 * - parameters (trainable or frozen weights) and buffers (constants such as a causal mask)
 *   are registered by name; both are marked `isParameter`, so saving them for backward costs
 *   no activation bytes;
 * - child modules are registered by name, and each child's `forward` runs inside a module
 *   scope named by its path (`blocks.0.attn.q`), so `measureSaved` attributes bytes to it;
 * - `train()` / `eval()` set the mode (dropout), `freeze()` / `unfreeze()` set requiresGrad.
 */
export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  abstract forward(...args: never[]): Tensor;

  protected registerParameter(name: string, t: Tensor): Tensor {
    t.isParameter = true;
    t.name = name;
    this.params.set(name, t);
    return t;
  }

  protected registerBuffer(name: string, t: Tensor): Tensor {
    t.isParameter = true;
    t.requiresGrad = false;
    t.name = name;
    this.buffers.set(name, t);
    return t;
  }

  /** Registers child under name and scopes its forward calls to that name. */
  protected registerModule<M extends Module>(name: string, child: M): M {
    this.children.set(name, child);
    const forward = child.forward;
    child.forward = ((...args: never[]) => withModule(name, () => forward.apply(child, args))) as M['forward'];
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

  /** Sets every parameter's .grad to null (freeing it). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
}

/** Throws unless x's last axis has the expected size. */
export function checkFeatures(op: string, x: Tensor, features: number): void {
  if (x.rank < 1 || x.shape[x.rank - 1] !== features) {
    fail(op, `${describe('x', x)} does not fit: expected the last axis to have ${features} features`);
  }
}
