/**
 * Every claim of docs/math.md that the project checks, numbered as there:
 *   1–4  LoRA-FA's corrected gradient: closed form, projection, optimality, descent (f64 and f32)
 *   5    the same four for LoRA-FB, from the right
 *   6    one forward and one input gradient for all LoRA ops (and with dropout)
 *   7    Theorem 3.1: same span ⇒ exact; Monte Carlo E‖(I − P)A*‖² = r(d − r)
 *   8    saved activation bytes per method, one layer and a stack of two
 *   9    claims 1–4 for gaussian, uniform and orthogonal A
 *   10   a rank-deficient frozen factor: a clear refusal, or the documented ridge
 *   11   LoRA-Pro's equivalent update is the projection P_A·G + G·P_B − P_A·G·P_B
 *   12   PiSSA's init leaves the output unchanged; σ·A·B = [W]_r
 *   13   Appendix E.3: LoRA-FA with PiSSA's A is blind to a G with AᵀG = 0
 */
import type { Claim } from './claim.ts';
import { degenerateClaims } from './claims-degenerate.ts';
import { forwardClaims } from './claims-forward.ts';
import { memoryClaims } from './claims-memory.ts';
import { peftClaims } from './claims-peft.ts';
import { initClaims, projectionClaims } from './claims-projection.ts';
import { theoremClaims } from './claims-theorem.ts';

export function allClaims(): Claim<never>[] {
  const f32 = projectionClaims('float32');
  return [
    ...projectionClaims('float64').flatMap((claim, i) => [claim, f32[i]!]),
    ...forwardClaims(),
    ...theoremClaims(),
    ...memoryClaims(),
    ...initClaims(),
    ...degenerateClaims(),
    ...peftClaims(),
  ] as Claim<never>[];
}
