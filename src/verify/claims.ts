/**
 * Every claim of docs/math.md that the project checks, numbered as there:
 *   1–4  LoRA-FA's corrected gradient: closed form, projection, optimality, descent (f64 and f32)
 *   5    the same four for LoRA-FB, from the right
 *   6    one forward and one input gradient for all LoRA ops (and with dropout); all 16
 *        requires-grad combinations of (x, W, A, B)
 *   7    Theorem 3.1: same span ⇒ exact; Monte Carlo E‖(I − P)A*‖² = r(d − r)
 *   8    saved activation bytes per method, one layer, a stack of two, a shared input
 *   9    claims 1–4 for gaussian, uniform and orthogonal A
 *   10   a rank-deficient frozen factor: a clear refusal, or the documented ridge
 *   11   LoRA-Pro's equivalent update is the projection P_A·G + G·P_B − P_A·G·P_B
 *   12   PiSSA's init leaves the output unchanged; σ·A·B = [W]_r
 *   13   Appendix E.3: (i) LoRA-FA with PiSSA's A is blind to a G with AᵀG = 0; (ii) a gaussian A
 *        captures (r/d)·‖G‖² in expectation
 *   14   Appendix E.2: LoRA-FA's saved bytes on the lab GPT depend on r and on the adapted linears
 *        only through N·r per adapted linear
 *   15   the factor cache: one factorization per frozen A, refactored after an in-place change
 *   16   the analytic memory model: its totals in closed form; a GPT step measured
 *   17   the paper's Table 7, audited: only the recorded discrepancies
 *   18   the paper's Appendix C figure: holds only with own copies of each input
 */
import type { Claim } from './claim.ts';
import { cacheClaims } from './claims-cache.ts';
import { comboClaims } from './claims-combos.ts';
import { degenerateClaims } from './claims-degenerate.ts';
import { forwardClaims } from './claims-forward.ts';
import { gptMemoryClaims } from './claims-gpt-memory.ts';
import { initClaimsE3 } from './claims-init.ts';
import { memoryClaims } from './claims-memory.ts';
import { modelClaims } from './claims-model.ts';
import { peftClaims } from './claims-peft.ts';
import { initClaims, projectionClaims } from './claims-projection.ts';
import { theoremClaims } from './claims-theorem.ts';

export function allClaims(): Claim<never>[] {
  const f32 = projectionClaims('float32');
  const gpt = gptMemoryClaims(), model = modelClaims();
  return [
    ...projectionClaims('float64').flatMap((claim, i) => [claim, f32[i]!]),
    ...forwardClaims(),
    ...comboClaims(),
    ...theoremClaims(),
    ...memoryClaims(),
    ...initClaims(),
    ...degenerateClaims(),
    ...peftClaims(),
    ...initClaimsE3(),
    gpt.e2,
    ...cacheClaims(),
    model.totals,
    gpt.step,
    model.table7,
    model.appendixC,
  ] as Claim<never>[];
}
