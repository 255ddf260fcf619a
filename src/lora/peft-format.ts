/**
 * Adapters in Hugging Face PEFT's format, on bytes and objects (platform-neutral; the files are
 * written and read by lorafa/node's savePeftAdapter and loadPeftAdapter). docs/peft.md has the
 * format and the layout mapping:
 *   base_model.model.<path>.lora_A.weight          [r, d] = Aᵀ   (PEFT's A is [r, in])
 *   base_model.model.<path>.lora_B.weight          [o, r] = Bᵀ   (PEFT's B is [out, r])
 *   base_model.model.<path>.lora_magnitude_vector  [o]    = m    (DoRA; one norm per output unit)
 * with adapter_config.json holding r, lora_alpha, target_modules, use_rslora, use_dora,
 * init_lora_weights, … (PEFT 0.13's key set, keys sorted as PEFT writes them). PEFT's scale is
 * lora_alpha/r (lora_alpha/√r with use_rslora): the same σ as lorafa's.
 *
 * An adapter whose init rewrote W (PiSSA, LoRA-GA) is exported as PEFT exports one with
 * path_initial_model_for_weight_conversion: a plain LoRA on the original W, with
 *   A' = [A | A₀] [d, 2r],  B' = [B ; −B₀] [2r, o],  r' = 2r,  α' = 2α (√2·α with rsLoRA),
 * so σ'·A'·B' = σ·(A·B − A₀·B₀) and W + σ'·A'·B' = W_res + σ·A·B.
 */
import { noGrad } from '../autograd/grad-mode.ts';
import { cast } from '../autograd/ops/cast.ts';
import { concat, transpose } from '../autograd/ops/shape.ts';
import { describe, fail } from '../errors.ts';
import { tensor } from '../factories.ts';
import { Linear } from '../nn/linear.ts';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';
import { AdapterLayer } from './adapter-layer.ts';
import { applyAdapters, type AdapterReport } from './adapters.ts';
import { DoraLinear } from './dora-layer.ts';
import { LoraAdapterLinear } from './layers.ts';

export interface PeftAdapter {
  /** adapter_config.json as an object. */
  config: Record<string, unknown>;
  /** adapter_model.safetensors' tensors by key. */
  tensors: Record<string, Tensor>;
}

const PREFIX = 'base_model.model.';
const SUFFIXES = { A: '.lora_A.weight', B: '.lora_B.weight', m: '.lora_magnitude_vector' } as const;
/** Inits after which PEFT rewrites the base weights when it loads an adapter: the file alone does not give the model. */
const REWRITING_INITS = /^(pissa|olora|loftq|corda|lora_ga)/;

/** tᵀ of a matrix, a new (row-major) tensor. */
const contiguousT = (t: Tensor): Tensor => noGrad(() => transpose(t, 0, 1));

/** The adapter layers of a model with their paths, in model order. */
function adapterLayers(model: Module): [string, AdapterLayer][] {
  return model.namedModules().filter((e): e is [string, AdapterLayer] => e[1] instanceof AdapterLayer);
}

/** target_modules that selects exactly `paths` among the model's Linear layers: layer names when they do, else a full-match regex of the paths. */
function targetModules(model: Module, paths: string[]): string[] | string {
  const names = [...new Set(paths.map((p) => p.split('.').pop()!))].sort();
  const all = model.namedModules().filter(([, m]) => m instanceof Linear || m instanceof AdapterLayer).map(([p]) => p).filter((p) => !p.endsWith('.base'));
  const selected = all.filter((p) => names.includes(p.split('.').pop()!));
  if (selected.length === paths.length) return names;
  return `(${paths.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`;
}

/**
 * The PEFT adapter of a model whose adapters were injected by applyAdapters (every adapter one
 * rank, α, scale rule and kind): the tensors by PEFT key and adapter_config.json. VeRA, a
 * different PEFT format, is refused.
 */
export function peftAdapterState(model: Module, options: { baseModel?: string } = {}): PeftAdapter {
  const op = 'peftAdapterState';
  const layers = adapterLayers(model);
  if (layers.length === 0) fail(op, 'the model holds no adapter; expected one made by applyAdapters');
  const loras = layers.map(([path, l]) => {
    if (!(l instanceof LoraAdapterLinear)) fail(op, `'${path}' is a ${l.constructor.name}: only LoRA-type adapters (LoRA, LoRA-FA, LoRA-FB, LoRA-Pro, DoRA; any init) have PEFT's LoRA format`);
    return [path, l] as const;
  });
  const first = loras[0]![1];
  const key = (l: LoraAdapterLinear) => JSON.stringify([l.rank, l.alpha, l.rslora, l instanceof DoraLinear, l.initial !== null, l.dropout]);
  const odd = loras.find(([, l]) => key(l) !== key(first));
  if (odd) fail(op, `'${odd[0]}' differs from '${loras[0]![0]}' in rank, alpha, rslora, DoRA, init or dropout; expected one configuration (PEFT's rank_pattern is not written)`);
  const convert = first.initial !== null;
  if (convert && first instanceof DoraLinear) fail(op, 'a DoRA adapter with an SVD init cannot be converted onto the original W (its magnitude normalises W − σA₀B₀); expected a random init');
  if (convert && 2 * first.rank > Math.min(first.base.inFeatures, first.base.outFeatures)) {
    fail(op, `converting the ${first.init} adapter onto the original W needs rank 2r = ${2 * first.rank}, above min(d, o) of some layer; expected 2r ≤ min(d, o)`);
  }
  const tensors: Record<string, Tensor> = {};
  for (const [path, l] of loras) {
    let [A, B] = [l.A, l.B];
    if (l.initial) {
      const like = { dtype: l.A.dtype, device: l.A.device };
      const A0 = tensor(l.initial.A, { ...like, shape: l.A.shape });
      const B0 = tensor(l.initial.B.map((v) => -v), { ...like, shape: l.B.shape });
      [A, B] = noGrad(() => [concat([l.A, A0], 1), concat([l.B, B0], 0)]);
    }
    tensors[`${PREFIX}${path}${SUFFIXES.A}`] = contiguousT(A);
    tensors[`${PREFIX}${path}${SUFFIXES.B}`] = contiguousT(B);
    if (l instanceof DoraLinear) tensors[`${PREFIX}${path}${SUFFIXES.m}`] = l.m;
  }
  const config: Record<string, unknown> = {
    alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: options.baseModel ?? null, bias: 'none', fan_in_fan_out: false,
    inference_mode: true, init_lora_weights: true, layer_replication: null, layers_pattern: null, layers_to_transform: null,
    loftq_config: {}, lora_alpha: convert ? first.alpha * (first.rslora ? Math.SQRT2 : 2) : first.alpha, lora_dropout: first.dropout,
    megatron_config: null, megatron_core: 'megatron.core', modules_to_save: null, peft_type: 'LORA', r: convert ? 2 * first.rank : first.rank,
    rank_pattern: {}, revision: null, target_modules: targetModules(model, loras.map(([p]) => p)), task_type: null,
    use_dora: first instanceof DoraLinear, use_rslora: first.rslora,
  };
  return { config, tensors };
}

export interface LoadPeftOptions {
  /** The lorafa layer for a LoRA (not DoRA) adapter: 'lora' (default), 'lorafa', 'lorafb' or 'lorapro' — which factor then trains. */
  method?: 'lora' | 'lorafa' | 'lorafb' | 'lorapro';
}

/** The config's fields lorafa uses, checked. */
function readConfig(config: unknown): { r: number; alpha: number; rslora: boolean; dora: boolean; dropout: number; targets: unknown } {
  const op = 'applyPeftAdapter';
  if (config === null || typeof config !== 'object' || Array.isArray(config)) fail(op, 'adapter_config.json is not a JSON object');
  const c = config as Record<string, unknown>;
  const peftType = c.peft_type ?? 'LORA';
  if (peftType !== 'LORA') fail(op, `peft_type ${JSON.stringify(peftType)} is not supported; expected "LORA"`);
  const r = c.r ?? 8, alpha = c.lora_alpha ?? 8, rslora = c.use_rslora ?? false, dora = c.use_dora ?? false, dropout = c.lora_dropout ?? 0;
  if (!(Number.isInteger(r) && (r as number) >= 1)) fail(op, `r = ${JSON.stringify(r)}; expected a positive integer`);
  if (!(typeof alpha === 'number' && Number.isFinite(alpha) && alpha !== 0)) fail(op, `lora_alpha = ${JSON.stringify(alpha)}; expected a finite non-zero number`);
  if (typeof rslora !== 'boolean' || typeof dora !== 'boolean') fail(op, `use_rslora = ${JSON.stringify(rslora)} and use_dora = ${JSON.stringify(dora)}; expected booleans`);
  if (!(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) fail(op, `lora_dropout = ${JSON.stringify(dropout)}; expected 0 ≤ p < 1`);
  for (const k of ['rank_pattern', 'alpha_pattern'] as const) {
    if (c[k] !== undefined && c[k] !== null && Object.keys(c[k] as object).length) fail(op, `${k} ${JSON.stringify(c[k])} is not supported; expected {} (one rank and alpha for every layer)`);
  }
  if ((c.bias ?? 'none') !== 'none') fail(op, `bias = ${JSON.stringify(c.bias)} is not supported; expected "none"`);
  if (c.modules_to_save !== undefined && c.modules_to_save !== null) fail(op, `modules_to_save = ${JSON.stringify(c.modules_to_save)} is not supported; expected null`);
  const init = c.init_lora_weights;
  if (typeof init === 'string' && REWRITING_INITS.test(init)) {
    fail(op, `init_lora_weights = "${init}": PEFT rewrites the base weights when it loads such an adapter; expected an adapter converted onto the original W (PEFT's path_initial_model_for_weight_conversion)`);
  }
  return { r: r as number, alpha, rslora, dora, dropout, targets: c.target_modules };
}

/** Whether target_modules (a list of names matched as PEFT does — the whole path or its last parts — or a full-match regex string) selects path. */
function targeted(targets: unknown, path: string): boolean {
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(path);
  if (Array.isArray(targets)) return targets.some((t) => path === t || path.endsWith(`.${String(t)}`));
  fail('applyPeftAdapter', `target_modules = ${JSON.stringify(targets)}; expected a list of module names or a regular expression`);
}

/**
 * Loads a PEFT LoRA/DoRA adapter onto a lorafa model that holds no adapters, all or nothing:
 * every key, module and shape is checked before the model is changed. Injects the layers
 * (applyAdapters) on exactly the adapter's modules and copies Aᵀ, Bᵀ (and m) into them.
 */
export function applyPeftAdapter(model: Module, adapter: PeftAdapter, options: LoadPeftOptions = {}): AdapterReport {
  const op = 'applyPeftAdapter';
  const cfg = readConfig(adapter?.config);
  const method = options.method ?? 'lora';
  if (!['lora', 'lorafa', 'lorafb', 'lorapro'].includes(method)) fail(op, `method '${method}' is unknown; expected lora, lorafa, lorafb or lorapro`);
  if (cfg.dora && options.method !== undefined) fail(op, `the adapter is DoRA (use_dora); expected no method option (got '${method}')`);
  const held = adapterLayers(model).map(([p]) => p);
  if (held.length) fail(op, `the model already holds adapters at ${held.join(', ')}; expected a model without adapters`);
  const linears = new Map(model.namedModules().filter((e): e is [string, Linear] => e[1] instanceof Linear));
  const parts = new Map<string, Partial<Record<keyof typeof SUFFIXES, Tensor>>>();
  for (const [k, t] of Object.entries(adapter.tensors)) {
    const which = (Object.keys(SUFFIXES) as (keyof typeof SUFFIXES)[]).find((s) => k.endsWith(SUFFIXES[s]) || (s === 'm' && k.endsWith(`${SUFFIXES.m}.weight`)));
    if (!k.startsWith(PREFIX) || !which) fail(op, `key '${k}' is not a LoRA tensor; expected ${PREFIX}<module path> followed by ${Object.values(SUFFIXES).join(', ')}`);
    const path = k.slice(PREFIX.length, k.lastIndexOf(SUFFIXES[which]));
    if (!linears.has(path)) fail(op, `key '${k}' names module '${path}', which is not a Linear layer of the model; the Linear layers are ${[...linears.keys()].join(', ')}`);
    if (which === 'm' && !cfg.dora) fail(op, `key '${k}' is a DoRA magnitude, but the config has use_dora false`);
    parts.set(path, { ...parts.get(path), [which]: t });
  }
  if (parts.size === 0) fail(op, 'the adapter has no tensors');
  for (const [path, p] of parts) {
    const W = linears.get(path)!.weight;
    const [d, o] = W.shape as [number, number];
    const want: [keyof typeof SUFFIXES, number[]][] = [['A', [cfg.r, d]], ['B', [o, cfg.r]], ...(cfg.dora ? [['m', [o]] as [keyof typeof SUFFIXES, number[]]] : [])];
    for (const [which, shape] of want) {
      const t = p[which];
      if (!t) fail(op, `module '${path}' has no ${SUFFIXES[which].slice(1)}; expected ${want.map(([w]) => SUFFIXES[w].slice(1)).join(', ')}`);
      if (t.device !== W.device) fail(op, `'${PREFIX}${path}${SUFFIXES[which]}' is on ${t.device}; expected it on ${W.device}, the device of ${describe('W', W)}`);
      if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
        fail(op, `'${PREFIX}${path}${SUFFIXES[which]}' is ${describe('', t).trim()}; expected [${shape.join(', ')}] for ${describe('W', W)} with r = ${cfg.r} (PEFT's layout: lora_A [r, in], lora_B [out, r])`);
      }
    }
    if (cfg.r > Math.min(d, o)) fail(op, `r = ${cfg.r} exceeds min(d, o) = ${Math.min(d, o)} of '${path}'; lorafa's LoRA layers need r ≤ min(d, o)`);
  }
  const unmatched = [...linears.keys()].filter((p) => targeted(cfg.targets, p) !== parts.has(p));
  if (unmatched.length) fail(op, `target_modules ${JSON.stringify(cfg.targets)} and the tensors disagree on ${unmatched.join(', ')}; expected tensors for exactly the targeted modules`);
  const paths = [...parts.keys()];
  const targets = new RegExp(`^(${paths.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`);
  const report = applyAdapters(model, {
    method: cfg.dora ? 'dora' : method, rank: cfg.r, alpha: cfg.alpha, rslora: cfg.rslora, dropout: cfg.dropout, targets,
  });
  const layers = new Map(adapterLayers(model));
  noGrad(() => {
    for (const [path, p] of parts) {
      const layer = layers.get(path) as LoraAdapterLinear;
      const fit = (t: Tensor, like: Tensor) => (t.dtype === like.dtype ? t : cast(t, like.dtype));
      layer.A.assign(fit(contiguousT(p.A!), layer.A));
      layer.B.assign(fit(contiguousT(p.B!), layer.B));
      if (layer instanceof DoraLinear) layer.m.assign(fit(p.m!, layer.m));
    }
  });
  return report;
}
