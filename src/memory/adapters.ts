/**
 * Per adapted linear layer (X [N, d], W [d, o] frozen, rank r): what each fine-tuning method
 * trains, stores and saves for backward — the formulas docs/math.md and docs/peft.md state and the
 * tests measure to the byte (measureSaved of one op whose input needs no gradient, no matter
 * the adapter dropout, whose masks lorafa regenerates):
 *
 *   kind      trainable          saved elements       what is saved
 *   full      d·o                N·d                  X (for ∂W = Xᵀ·dY)
 *   lora      r·(d + o)          N·(d + r)            X (for g_A), XA (for g_B)
 *   lorafa    r·o                N·r                  XA
 *   lorafb    d·r                N·d                  X
 *   lorapro   r·(d + o)          N·(d + r)            as LoRA (the adjustment needs only r×r factors)
 *   dora      r·(d + o) + o      N·(d + r + o)        X, XA, X·V (for the magnitude's gradient and the norm's)
 *   vera      r + o              N·(r + o)            XA (for g_d), (XA ⊙ d)·B (for g_b); never X
 *
 * Methods that change only σ (rsLoRA), the optimizer (LoRA+) or the init (PiSSA, LoRA-GA) have
 * the memory of the kind they train with; `PEFT_METHODS` maps each method to its kind.
 */

export type AdapterKind = 'full' | 'lora' | 'lorafa' | 'lorafb' | 'lorapro' | 'dora' | 'vera';
export const ADAPTER_KINDS: readonly AdapterKind[] = ['full', 'lora', 'lorafa', 'lorafb', 'lorapro', 'dora', 'vera'];

export interface LinearDims {
  N: number;
  d: number;
  o: number;
  r: number;
}

/** Saved activation elements of one adapted linear whose input needs no gradient. */
export function adapterSavedElements(kind: AdapterKind, { N, d, o, r }: LinearDims): number {
  return { full: N * d, lora: N * (d + r), lorafa: N * r, lorafb: N * d, lorapro: N * (d + r), dora: N * (d + r + o), vera: N * (r + o) }[kind];
}

/** Trainable parameter elements of one adapted linear (VeRA's shared A and B are frozen and stored once per model). */
export function adapterTrainable(kind: AdapterKind, { d, o, r }: Omit<LinearDims, 'N'>): number {
  return { full: d * o, lora: r * (d + o), lorafa: r * o, lorafb: d * r, lorapro: r * (d + o), dora: r * (d + o) + o, vera: r + o }[kind];
}

/** Adapter parameter elements stored per adapted linear, trained or frozen (VeRA: only d and b; its A and B are shared). */
export function adapterStored(kind: AdapterKind, { d, o, r }: Omit<LinearDims, 'N'>): number {
  return { full: 0, lora: r * (d + o), lorafa: r * (d + o), lorafb: r * (d + o), lorapro: r * (d + o), dora: r * (d + o) + o, vera: r + o }[kind];
}

/** The methods compared in docs/peft.md: the label, the kind whose memory it has, and what makes it different. */
export interface PeftMethod {
  key: string;
  label: string;
  kind: AdapterKind;
  note: string;
}

export const PEFT_METHODS: readonly PeftMethod[] = [
  { key: 'full', label: 'Full-FT', kind: 'full', note: 'every weight trained' },
  { key: 'lora', label: 'LoRA', kind: 'lora', note: 'A and B trained, σ = α/r' },
  { key: 'rslora', label: 'rsLoRA', kind: 'lora', note: 'LoRA with σ = α/√r' },
  { key: 'loraplus', label: 'LoRA+', kind: 'lora', note: "LoRA with B's learning rate λ× A's" },
  { key: 'pissa', label: 'PiSSA', kind: 'lora', note: 'LoRA from the top-r SVD of W; W − σAB frozen' },
  { key: 'lora-ga', label: 'LoRA-GA', kind: 'lora', note: 'LoRA from the SVD of the first gradient' },
  { key: 'lorapro', label: 'LoRA-Pro', kind: 'lorapro', note: 'both gradients adjusted to the closest update to G' },
  { key: 'dora', label: 'DoRA', kind: 'dora', note: 'LoRA plus a trained magnitude per output column' },
  { key: 'vera', label: 'VeRA', kind: 'vera', note: 'shared frozen random A, B; trained vectors d, b' },
  { key: 'lorafa', label: 'LoRA-FA', kind: 'lorafa', note: 'A frozen, B trained with the projected gradient' },
  { key: 'lorafa-pissa', label: 'LoRA-FA (PiSSA A)', kind: 'lorafa', note: 'LoRA-FA with A from the top-r SVD of W' },
  { key: 'lorafb', label: 'LoRA-FB', kind: 'lorafb', note: 'B frozen, A trained with the projected gradient' },
];

/** How each kind is named in text and charts: the label of the method whose key is the kind. */
export const ADAPTER_LABELS = Object.fromEntries(
  ADAPTER_KINDS.map((kind) => [kind, PEFT_METHODS.find((m) => m.key === kind)!.label]),
) as Record<AdapterKind, string>;
