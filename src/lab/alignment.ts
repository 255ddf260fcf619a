import { add, mul } from '../autograd/ops/elementwise.ts';
import { matmul } from '../autograd/ops/matmul.ts';
import { sum } from '../autograd/ops/reduce.ts';
import { noGrad } from '../autograd/grad-mode.ts';
import { scope } from '../autograd/scope.ts';
import type { Batch } from '../data/text.ts';
import { zeros } from '../factories.ts';
import { LoraAdapterLinear, LoraFaLinear, LoraFbLinear } from '../nn/lora.ts';
import type { GPT } from '../nn/transformer.ts';
import type { Tensor } from '../tensor.ts';

/**
 * How well each adapter's update follows Full-FT — the quantity Theorem 4.1 optimises.
 * For every adapted layer (W [d, o] frozen, A [d, r], B [r, o], σ = α/r), at the current
 * parameters and on one batch:
 *   G  = Xᵀ·dY, the full gradient of W (what Full-FT would step along), and
 *   D  = the change of the effective weight W + σAB per unit learning rate of an SGD step:
 *        LoRA σ(g_A·B + A·g_B) (first order), LoRA-FA σ·A·g̃_B, LoRA-FB σ·g̃_A·B,
 *        with g̃ the gradient the op hands the optimizer (projected, or plain with correction 'none').
 * Returns cos(D, G) = ⟨D, G⟩/(‖D‖·‖G‖) per layer (NaN where D or G is 0). By Theorem 4.1,
 * LoRA-FA's closed form gives D ∝ P_A·G, so its cosine ‖P_A G‖/‖G‖ is the largest any update
 * in col(A) can reach.
 *
 * G is read with a probe: each adapted layer's output gets + X·P with P = 0 [d, o] requiring
 * grad, so P's gradient is exactly Xᵀ·dY while the forward is unchanged. No parameter is updated.
 */
export async function updateAlignment(model: GPT, batch: Batch): Promise<{ path: string; cosine: number }[]> {
  const layers = model.namedModules().filter((e): e is [string, LoraAdapterLinear] => e[1] instanceof LoraAdapterLinear);
  const probes = layers.map(([, layer]) => {
    const [d, o] = layer.base.weight.shape as [number, number];
    return zeros([d, o], { dtype: layer.base.weight.dtype, device: layer.base.weight.device, requiresGrad: true });
  });
  const forwards = layers.map(([, layer], i) => {
    const forward = layer.forward;
    layer.forward = (x: Tensor) => add(forward.call(layer, x), matmul(x, probes[i]!));
    return forward;
  });
  try {
    scope(() => model.loss(batch.x, batch.y).backward());
  } finally {
    layers.forEach(([, layer], i) => (layer.forward = forwards[i]!));
  }
  const cosines = layers.map(([, layer], i) => noGrad(() => scope(() => {
    const G = probes[i]!.grad!;
    const D = mul(updateDirection(layer), layer.scale);
    return [sum(mul(D, G)), sum(mul(D, D)), sum(mul(G, G))];
  })));
  const out: { path: string; cosine: number }[] = [];
  for (let i = 0; i < layers.length; i++) {
    const [dot, dd, gg] = await Promise.all(cosines[i]!.map((t) => t.item()));
    out.push({ path: layers[i]![0], cosine: dd > 0 && gg > 0 ? dot! / Math.sqrt(dd! * gg!) : NaN });
    cosines[i]!.forEach((t) => t.dispose());
  }
  model.zeroGrad();
  for (const p of probes) {
    p.grad?.dispose();
    p.dispose();
  }
  return out;
}

/** (1/σ)·D: the effective-weight change of one adapter, from the gradients the last backward left. */
function updateDirection(layer: LoraAdapterLinear): Tensor {
  const { A, B } = layer;
  if (layer instanceof LoraFaLinear) return matmul(A, B.grad!);
  if (layer instanceof LoraFbLinear) return matmul(A.grad!, B);
  return add(matmul(A.grad!, B), matmul(A, B.grad!));
}
