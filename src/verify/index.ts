/**
 * lorafa/verify: the claims harness behind `lorafa verify`, for writing your own properties.
 *
 *   import fc from 'fast-check';
 *   import { runClaim, loraCase, makeData, runMethod, fullGradient, roundoff, EPSILON, type Claim } from 'lorafa/verify';
 *   const myClaim: Claim<LoraCase> = { id: 'mine', title: '…', unit: 'rel', arbitrary: loraCase('float64'), check: (c) => … };
 *   console.log(runClaim(myClaim, { numRuns: 100, seed: 1 }).holds);
 *
 * A Claim draws cases from a fast-check arbitrary and measures each as { error, tolerance }; the
 * case generators build random LoRA problems (X, W, A, B, dY, σ) and run the engine's ops on them;
 * `dense` is a small independent float64 matrix library (QR least squares, projections, SVD) for
 * reference values; `roundoff` gives the rounding tolerances the project's own claims use.
 * `runClaim(claim, { numRuns, seed, fault: parseFault('verify', 'grad:1e-10') })` is the self-test
 * of a check: with the fault injected into what the harness reads, a claim that detects it fails.
 */
export { allClaims } from './claims.ts';
export { runClaim, evaluate, type ClaimResult, type RunOptions } from './run.ts';
export { FAULT_KINDS, parseFault, type Fault, type FaultKind } from './fault.ts';
export { holds, worst, roundoff, TOL, EPSILON, type Claim, type Outcome, type FloatDType } from './claim.ts';
export {
  loraCase, makeData, runMethod, fullGradient, effectiveWeight, RANDOM_INITS,
  type LoraCase, type LoraData, type Method, type MethodRun, type RandomInit,
} from './cases.ts';
export { expectedElements, singleLayerForward, type LayerCase } from './claims-memory.ts';
export { projectionView, dataFromJson, type ProjectionView, type ProjectionClaim } from './projection-view.ts';
export { claimTable, statements, counterexamples } from './report.ts';
export * as dense from './dense.ts';
