import { add } from '../autograd/ops/elementwise.ts';
import { matmul } from '../autograd/ops/matmul.ts';
import { reshape } from '../autograd/ops/shape.ts';
import { noGrad } from '../autograd/grad-mode.ts';
import { keep, scope } from '../autograd/scope.ts';
import type { Batch } from '../data/text.ts';
import { fail } from '../errors.ts';
import { DEFAULT_TARGETS } from '../lora/adapters.ts';
import { Linear } from '../nn/linear.ts';
import { AdapterLayer } from '../lora/adapter-layer.ts';
import type { GPT } from '../nn/transformer.ts';
import type { Tensor } from '../tensor.ts';

/**
 * How well each method's update follows Full-FT, per targeted linear layer (W [d, o]; with an
 * adapter A [d, r], B [r, o], σ = α/r and effective weight W_eff = W + σ·A·B), at one training
 * step, on that step's batch:
 *   G        = Xᵀ·dY, Full-FT's gradient of W_eff at the current parameters;
 *   −ΔW_SGD  = the change of W_eff that one plain SGD step on the method's gradients would make,
 *              per unit learning rate and negated (first order): LoRA-FA σ·A·g̃_B, LoRA-FB σ·g̃_A·B,
 *              LoRA σ·(g_A·B + A·g_B), Full-FT G itself — g̃ being the gradient the op hands the
 *              optimizer (projected, or plain with correction 'none'). This is the quantity
 *              Theorem 4.1 optimises: LoRA-FA's closed form gives σ·A·g̃_B = P_A·G, so its
 *              cosine ‖P_A·G‖/‖G‖ is the largest any direction within col(A) reaches;
 *   −ΔW_AdamW = W_eff before − W_eff after the optimizer step the run really takes (gradient
 *              clipping, AdamW's normalised moments, decoupled weight decay).
 * Each cosine is ⟨D, G⟩/(‖D‖·‖G‖), NaN where D or G is 0; a positive one is a descent direction.
 *
 * G is read with module hooks: a forward hook keeps each layer's input X, a backward hook gets
 * its output's gradient dY and forms G = Xᵀ·dY; neither changes what the model computes.
 * Everything the diagnostic keeps between the probe and the step lives on the host (float64).
 */
export interface AlignmentProbe {
  layers: { path: string; layer: AlignedLayer; G: Float64Array; before: Float64Array; sgd: number }[];
}

type AlignedLayer = Linear | AdapterLayer;

/** The adapters of the model; without any (Full-FT), its Linear layers named q, k, v, o, up, down. */
export function alignedLayers(model: GPT): [string, AlignedLayer][] {
  const modules = model.namedModules();
  const adapters = modules.filter((e): e is [string, AdapterLayer] => e[1] instanceof AdapterLayer);
  if (adapters.length) return adapters;
  const targets: readonly string[] = DEFAULT_TARGETS;
  return modules.filter((e): e is [string, Linear] => e[1] instanceof Linear && targets.includes(e[0].split('.').pop()!));
}

/**
 * Measures G and cos(−ΔW_SGD, G) per layer at the current parameters on batch, and keeps W_eff
 * for appliedAlignment. No parameter is updated, and no gradient is left behind.
 */
export async function probeAlignment(model: GPT, batch: Batch): Promise<AlignmentProbe> {
  const layers = alignedLayers(model);
  const inputs: (Tensor | null)[] = layers.map(() => null); //  X [..., d] per layer
  const grads: (Tensor | null)[] = layers.map(() => null); //   G = Xᵀ·dY [d, o] per layer
  const hooks = layers.flatMap(([path, layer], i) => [
    layer.registerForwardHook((_module, [x]) => {
      if (inputs[i]) fail('probeAlignment', `layer '${path}' ran twice in one forward; the probe measures one call per layer`);
      inputs[i] = keep((x as Tensor).detach());
    }),
    layer.registerFullBackwardHook((_module, _gradInputs, [dY]) => {
      const X = inputs[i]!;
      const [d, o] = [X.shape[X.rank - 1]!, dY!.shape[dY!.rank - 1]!];
      grads[i] = keep(matmul(reshape(X, [-1, d]), reshape(dY!, [-1, o]), { transA: true }));
    }),
  ]);
  try {
    scope(() => model.loss(batch.x, batch.y).backward());
  } finally {
    for (const h of hooks) h.remove();
    for (const X of inputs) X?.dispose();
  }
  const out: AlignmentProbe = { layers: [] };
  for (let i = 0; i < layers.length; i++) {
    const [path, layer] = layers[i]!;
    const G = Float64Array.from(await grads[i]!.data());
    grads[i]!.dispose();
    const direction = noGrad(() => scope(() => sgdDirection(layer)));
    const D = Float64Array.from(await direction.data());
    direction.dispose();
    out.layers.push({ path, layer, G, before: await effectiveWeight(layer), sgd: cosine(D, G) });
  }
  model.zeroGrad();
  return out;
}

/** cos(−ΔW_AdamW, G) per layer of the probe: call it right after the optimizer step. */
export async function appliedAlignment(probe: AlignmentProbe): Promise<number[]> {
  const out: number[] = [];
  for (const { layer, G, before } of probe.layers) {
    const after = await effectiveWeight(layer);
    out.push(cosine(before.map((b, i) => b - after[i]!), G));
  }
  return out;
}

/** ⟨a, b⟩/(‖a‖·‖b‖) in float64; NaN when either is 0. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : NaN;
}

/** −ΔW_SGD per unit learning rate [d, o], from the gradients the last backward left (Full-FT: G itself). */
function sgdDirection(layer: AlignedLayer): Tensor {
  return layer instanceof Linear ? add(layer.weight.grad!, 0) : layer.sgdDirection();
}

/** W_eff [d, o] (W for a plain Linear; W + σ·A·B and the like for an adapter) on the host, in float64. */
async function effectiveWeight(layer: AlignedLayer): Promise<Float64Array> {
  if (layer instanceof Linear) return Float64Array.from(await layer.weight.data());
  const W = noGrad(() => scope(() => layer.effectiveWeight())); // the scope frees σ·A·B and the like at once
  try {
    return Float64Array.from(await W.data());
  } finally {
    W.dispose();
  }
}
