import { fail } from '../errors.ts';
import { Linear } from '../nn/linear.ts';
import type { Module } from '../nn/module.ts';
import { LoraAdapterLinear, LoraFaLinear, LoraFbLinear, LoraLinear, type LoraInit, type LoraLayerOptions } from './layers.ts';

export type AdapterMethod = 'lora' | 'lorafa' | 'lorafb';

/** The Linear children GPT blocks have (attention q, k, v, o; MLP up, down). */
export const DEFAULT_TARGETS = ['q', 'k', 'v', 'o', 'up', 'down'] as const;

export interface AdapterOptions {
  method: AdapterMethod;
  rank: number;
  alpha: number;
  /** Drop probability of each adapter's input while training (default 0). */
  dropout?: number;
  /**
   * Which Linear layers to adapt: names of the layer itself (the last part of its path, e.g.
   * ['q', 'v']), or a RegExp tested on the whole dotted path (e.g. /^blocks\.0\.attn\./).
   * Default: every q, k, v, o, up and down.
   */
  targets?: readonly string[] | RegExp;
  /** Init of the random factor: A for LoRA and LoRA-FA, B for LoRA-FB (the other one starts at zero). */
  init?: Exclude<LoraInit, 'zeros'>;
  /** LoRA-FA / LoRA-FB: 'closed-form' (default) projected gradient, or 'none'. */
  correction?: 'closed-form' | 'none';
  /** LoRA-FA / LoRA-FB: λ ≥ 0 added to AᵀA (BBᵀ) before factoring (default 0: a singular Gram matrix is refused). */
  ridge?: number;
  /** Seed of the factors; layer i gets seed + i. The global generator when absent. */
  seed?: number;
}

export interface AdapterReport {
  /** Dotted paths of the Linear layers replaced, in model order. */
  replaced: string[];
  /** Parameter elements that require grad after the injection (the adapters' trained factors). */
  trainable: number;
  /** All parameter elements, frozen base included. */
  total: number;
}

const LAYERS: Record<AdapterMethod, new (base: Linear, options: LoraLayerOptions) => LoraAdapterLinear> = {
  lora: LoraLinear,
  lorafa: LoraFaLinear,
  lorafb: LoraFbLinear,
};

/** Whether the Linear at `path` is one of targets (a name list matches the path's last part). */
function targetMatcher(targets: readonly string[] | RegExp): (path: string) => boolean {
  return (path) => {
    if (!(targets instanceof RegExp)) return targets.includes(path.split('.').pop()!);
    targets.lastIndex = 0; // a /g or /y pattern would otherwise resume where the last test stopped
    return targets.test(path);
  };
}

/**
 * The largest rank applyAdapters accepts for these targets: min(d, o) over the targeted Linear
 * layers (W [d, o]), so a command can refuse a rank before it trains anything; null when none matches.
 */
export function maxAdapterRank(model: Module, targets: readonly string[] | RegExp = DEFAULT_TARGETS): number | null {
  const matches = targetMatcher(targets);
  const ranks = model.namedModules()
    .filter((e): e is [string, Linear] => e[1] instanceof Linear && matches(e[0]))
    .map(([, l]) => Math.min(l.inFeatures, l.outFeatures));
  return ranks.length ? Math.min(...ranks) : null;
}

/**
 * Injects LoRA-type adapters in place, as PEFT's get_peft_model: every targeted Linear becomes
 * an adapter layer wrapping it (same child name, so module paths and measureSaved attribution
 * keep working), and every other parameter of the model is frozen. Returns what changed.
 */
export function applyAdapters(model: Module, options: AdapterOptions): AdapterReport {
  const { method, targets = DEFAULT_TARGETS } = options;
  const Layer = Object.hasOwn(LAYERS, method) ? LAYERS[method] : undefined;
  if (!Layer) fail('applyAdapters', `method '${String(method)}' is unknown; expected one of ${Object.keys(LAYERS).join(', ')}`);
  const matches = targetMatcher(targets);
  const found: { parent: Module; name: string; base: Linear; path: string }[] = [];
  const linears: string[] = [];
  const visit = (parent: Module, prefix: string): void => {
    for (const [name, child] of parent.namedChildren()) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (child instanceof LoraAdapterLinear) fail('applyAdapters', `'${path}' already holds an adapter; inject adapters once per model`);
      if (child instanceof Linear) {
        linears.push(path);
        if (matches(path)) found.push({ parent, name, base: child, path });
      } else visit(child, path);
    }
  };
  visit(model, '');
  if (found.length === 0) {
    fail('applyAdapters', `no Linear layer matches targets ${targets instanceof RegExp ? String(targets) : `[${targets.join(', ')}]`}; the Linear layers are ${linears.join(', ') || '(none)'}`);
  }
  model.freeze();
  found.forEach(({ parent, name, base }, i) => {
    const init = options.init;
    const layer = new Layer(base, {
      rank: options.rank,
      alpha: options.alpha,
      dropout: options.dropout,
      correction: options.correction,
      ridge: options.ridge,
      seed: options.seed === undefined ? undefined : (options.seed + i) >>> 0,
      ...(init ? (method === 'lorafb' ? { initB: init } : { initA: init }) : {}),
    });
    parent.replaceModule(name, layer);
  });
  return { replaced: found.map((f) => f.path), trainable: model.numParameters({ trainable: true }), total: model.numParameters() };
}
