import { fail } from '../errors.ts';
import { Linear } from '../nn/linear.ts';
import type { Module } from '../nn/module.ts';
import { AdapterLayer } from './adapter-layer.ts';

/** The Linear children GPT blocks have (attention q, k, v, o; MLP up, down). */
export const DEFAULT_TARGETS = ['q', 'k', 'v', 'o', 'up', 'down'] as const;

/**
 * Which Linear layers to adapt: names of the layer itself (the last part of its path, e.g.
 * ['q', 'v']), or a RegExp tested on the whole dotted path (e.g. /^blocks\.0\.attn\./).
 */
export type Targets = readonly string[] | RegExp;

export interface Target {
  parent: Module;
  name: string;
  base: Linear;
  /** The dotted module path, e.g. 'blocks.0.attn.q'. */
  path: string;
}

/** The model's Linear layers that `targets` selects, in model order; refuses a model that already holds adapters, or no match. */
export function findTargets(op: string, model: Module, targets: Targets = DEFAULT_TARGETS): Target[] {
  const matches = (path: string): boolean => {
    if (!(targets instanceof RegExp)) return targets.includes(path.split('.').pop()!);
    targets.lastIndex = 0; // a /g or /y pattern would otherwise resume where the last test stopped
    return targets.test(path);
  };
  const found: Target[] = [];
  const linears: string[] = [];
  const visit = (parent: Module, prefix: string): void => {
    for (const [name, child] of parent.namedChildren()) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (child instanceof AdapterLayer) fail(op, `'${path}' already holds an adapter; inject adapters once per model`);
      if (child instanceof Linear) {
        linears.push(path);
        if (matches(path)) found.push({ parent, name, base: child, path });
      } else visit(child, path);
    }
  };
  visit(model, '');
  if (found.length === 0) {
    fail(op, `no Linear layer matches targets ${targets instanceof RegExp ? String(targets) : `[${targets.join(', ')}]`}; the Linear layers are ${linears.join(', ') || '(none)'}`);
  }
  return found;
}

/**
 * The largest rank adapters accept on these targets: min(d, o) over the targeted Linear layers
 * (W [d, o]), so a command can refuse a rank before it trains anything.
 */
export function maxAdapterRank(model: Module, targets: Targets = DEFAULT_TARGETS): number {
  return Math.min(...findTargets('maxAdapterRank', model, targets).map(({ base }) => Math.min(base.inFeatures, base.outFeatures)));
}
