/**
 * Claim 15, the factor cache (src/lora/factor-cache.ts): LoRA-FA factors AᵀA = L·Lᵀ once while A
 * is unchanged, and after any in-place change of A — `A.assign(…)`, or a kernel writing A's storage
 * followed by `A.markModified()` (what an optimizer step does) — the next step refactors and its
 * gradient is exactly (bit for bit) that of a fresh tensor holding the new values. A stale factor
 * would give (1/σ²)(A₀ᵀA₀)⁻¹·g_B(A₁) instead: wrong by about the relative size of the change.
 */
import fc from 'fast-check';
import { loraFA } from '../ops.ts';
import { loraFactorStats } from '../lora/factor-cache.ts';
import { randomStream } from '../lora/init.ts';
import type { Tensor } from '../tensor.ts';
import { worst, type Claim, type Outcome } from './claim.ts';
import { gaussian, leaf, loraCase, makeData, naturalScales, type LoraCase } from './cases.ts';
import { combine, fromTensor, norm, sub, type Mat } from './dense.ts';
import { faultSize, perturb } from './fault.ts';

interface CacheCase {
  c: LoraCase;
  change: 'assign' | 'markModified';
  /** The change is A₁ = A₀ + 10^log10Size·‖A₀‖·E, E a random unit direction. */
  log10Size: number;
}

function check({ c, change, log10Size }: CacheCase): Outcome {
  const data = makeData(c);
  const x = leaf(data.X, c.dtype), W = leaf(data.W, c.dtype, { parameter: true });
  const step = (A: Tensor): Mat => {
    const B = leaf(data.B, c.dtype, { parameter: true, requiresGrad: true });
    loraFA(x, W, A, B, { scale: c.sigma }).backward(leaf(data.dY, c.dtype));
    return fromTensor(B.grad!);
  };
  const A = leaf(data.A, c.dtype, { parameter: true });
  const stale = faultSize('stale');
  const E = gaussian(randomStream('verify', (c.seed ^ 0xcac4e) >>> 0), c.d, c.r, 1, 'float64');
  const size = stale || 10 ** log10Size;
  const A1 = combine(data.A, 1, E, (size * norm(data.A)) / Math.max(norm(E), Number.MIN_VALUE));
  const first = loraFactorStats().factorizations;
  const g0 = step(A);
  const warm = step(A); // the same A: no new factorization, the same gradient
  const afterWarm = loraFactorStats().factorizations;
  const handle = A.storage.handle as Float64Array | Float32Array;
  if (stale) handle.set(A1.data); // behind the version counter: a cache cannot see it
  else if (change === 'assign') A.assign(leaf(A1, c.dtype));
  else {
    handle.set(A1.data);
    A.markModified();
  }
  const got = perturb('grad', step(A), naturalScales({ ...data, A: A1 }).projectedB);
  const refactored = loraFactorStats().factorizations - afterWarm;
  const fresh = step(leaf(A1, c.dtype, { parameter: true }));
  const gap = (a: Mat, b: Mat) => norm(sub(a, b)) / Math.max(norm(b), Number.MIN_VALUE);
  return worst(
    { error: afterWarm - first === 1 && gap(warm, g0) === 0 ? 0 : Infinity, tolerance: 0, note: `before the change: ${afterWarm - first} factorizations for two steps` },
    { error: refactored === 1 ? 0 : Infinity, tolerance: 0, note: `after ${change}: ${refactored} new factorizations` },
    { error: gap(got, fresh), tolerance: 0, note: `after ${change} of relative size ${size.toExponential(1)}: the step's gradB vs a fresh A's` },
  );
}

export function cacheClaims(): Claim<never>[] {
  const claim = (dtype: LoraCase['dtype']): Claim<CacheCase> => ({
    id: `15 factor cache · ${dtype === 'float64' ? 'f64' : 'f32'}`,
    title: 'AᵀA is factored once while A is unchanged; after A.assign or markModified the next gradB equals a fresh A\'s, bit for bit',
    unit: 'rel',
    arbitrary: fc.record({
      c: loraCase(dtype, 'orthogonal'), // well conditioned, so float32 never refuses
      change: fc.constantFrom<CacheCase['change']>('assign', 'markModified'),
      log10Size: fc.double({ min: -8, max: 0, noNaN: true }),
    }),
    check,
    detects: dtype === 'float64' ? { stale: 1e-10, grad: 1e-10 } : { stale: 1e-4, grad: 1e-4 },
  });
  return [claim('float64'), claim('float32')] as Claim<never>[];
}
