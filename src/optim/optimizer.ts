import { isTensor } from '../autograd/tensor-class.ts';
import { fail } from '../errors.ts';
import { isFloat } from '../dtype.ts';
import type { Tensor } from '../tensor.ts';

/**
 * A parameter group as given, as in PyTorch: its parameters, and any hyper-parameter that
 * overrides the optimizer's defaults for this group only (e.g. LoRA+'s λ·lr for the B factors).
 */
export type ParamGroupSpec<H> = { params: Iterable<Tensor> } & Partial<H>;

/** What an optimizer takes: parameters (one group with the defaults), or a list of groups. */
export type Params<H> = Iterable<Tensor> | readonly ParamGroupSpec<H>[];

/** A group as the optimizer holds it: its parameters and every hyper-parameter resolved. */
export type ParamGroup<H> = { params: Tensor[] } & H;

/**
 * Base of the optimizers: holds the parameter groups it updates. step() updates every parameter
 * that has a gradient, in place through the backend's fused kernel, with its group's
 * hyper-parameters, then bumps its version (caches keyed on it, such as LoRA-FA's factor of
 * AᵀA, see the change).
 *
 * Groups (PyTorch's semantics): `new AdamW([{ params: As }, { params: Bs, lr: 16 * lr }], { lr })`
 * — keys a group leaves out take the defaults. A parameter may appear in one group only.
 *
 * `lr` is the base learning rate (the defaults' lr) that a schedule sets between steps:
 * setting it sets every group's lr to base × (the group's lr / the base, as constructed), so
 * ratios between groups (LoRA+'s λ) are kept under any schedule, as PyTorch's schedulers keep
 * them by scaling each group's initial lr.
 */
export abstract class Optimizer<H extends { lr: number } = { lr: number }> {
  readonly paramGroups: ParamGroup<H>[];
  /** Every parameter, over all groups, in order. */
  readonly params: Tensor[];
  private base: number;
  /** Per group: its lr divided by the base lr at construction (null: base 0 with a group lr ≠ 0). */
  private readonly ratios: (number | null)[];

  constructor(protected readonly op: string, params: Params<H>, defaults: H, check: (group: H, where: string) => void) {
    const { groups, grouped } = toGroups(op, params, defaults);
    this.paramGroups = groups;
    this.params = groups.flatMap((g) => g.params);
    groups.forEach((g, i) => {
      const where = grouped ? `group ${i}: ` : '';
      if (!(typeof g.lr === 'number' && g.lr >= 0 && Number.isFinite(g.lr))) fail(op, `${where}lr = ${g.lr}; expected a finite non-negative number`);
      check(g, where);
    });
    const bad = this.params.find((p) => !p.requiresGrad || !isFloat(p.dtype));
    if (bad) fail(op, `parameter '${bad.name || '(unnamed)'}' (${bad.dtype}, requiresGrad ${bad.requiresGrad}) cannot be optimized; expected float tensors that require grad`);
    this.base = defaults.lr;
    this.ratios = this.paramGroups.map((g) => (this.base > 0 ? g.lr / this.base : g.lr === 0 ? 1 : null));
  }

  /** The base learning rate (the defaults' lr, or what a schedule set last). */
  get lr(): number {
    return this.base;
  }

  /** Sets the base learning rate; every group follows in its constructed ratio to it. */
  set lr(value: number) {
    if (!(typeof value === 'number' && value >= 0 && Number.isFinite(value))) fail(this.op, `lr = ${value}; expected a finite non-negative number`);
    const lost = this.ratios.findIndex((r) => r === null);
    if (lost >= 0) {
      fail(this.op, `group ${lost} has lr ${this.paramGroups[lost]!.lr} while the base lr was 0 at construction, so its ratio to the base is undefined; ` +
        "expected a non-zero default lr when groups set their own, or set each group's lr in paramGroups");
    }
    this.base = value;
    this.paramGroups.forEach((g, i) => (g.lr = value * this.ratios[i]!));
  }

  /** Updates every parameter whose .grad is set (others are skipped, as in PyTorch). */
  abstract step(): void;

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
}

/** Resolves params into groups with every default filled in; checks keys, duplicates and mixing. */
function toGroups<H extends { lr: number }>(op: string, params: Params<H>, defaults: H): { groups: ParamGroup<H>[]; grouped: boolean } {
  const items = [...(params as Iterable<unknown>)];
  const tensors = items.filter(isTensor).length;
  if (tensors === items.length) return { groups: [{ ...defaults, params: items as Tensor[] }], grouped: false };
  if (tensors > 0) fail(op, 'params mixes tensors and parameter groups; expected tensors only, or groups { params, ...hyper-parameters } only');
  const allowed = ['params', ...Object.keys(defaults)];
  const seen = new Map<Tensor, number>();
  const groups = items.map((item, i) => {
    if (item === null || typeof item !== 'object' || !('params' in item)) {
      const what = item !== null && typeof item === 'object' ? `an object with keys [${Object.keys(item).join(', ')}]` : String(item);
      fail(op, `group ${i} is ${what}; expected { params, ...hyper-parameters }`);
    }
    const unknown = Object.keys(item).filter((k) => !allowed.includes(k));
    if (unknown.length) fail(op, `group ${i} has unknown keys ${unknown.join(', ')}; expected some of ${allowed.join(', ')}`);
    const spec = item as ParamGroupSpec<H>;
    const groupParams = [...spec.params];
    for (const p of groupParams) {
      if (!isTensor(p)) fail(op, `group ${i}: params holds ${typeof p}; expected tensors`);
      const before = seen.get(p);
      if (before !== undefined) fail(op, `parameter '${p.name || '(unnamed)'}' is in group ${before} and group ${i}; expected each parameter in one group`);
      seen.set(p, i);
    }
    const overrides = Object.fromEntries(Object.entries(spec).filter(([k, v]) => k !== 'params' && v !== undefined));
    return { ...defaults, ...overrides, params: groupParams } as ParamGroup<H>;
  });
  return { groups, grouped: true };
}

/** Throws unless value is a finite number ≥ 0 (eps, weight decay). */
export function checkNonNegative(op: string, name: string, value: number): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) fail(op, `${name} = ${String(value)}; expected a finite number ≥ 0`);
}
