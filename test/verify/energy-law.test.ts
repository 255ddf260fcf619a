/**
 * Claim 13 (ii)'s law of one draw: E(A, G) = ‖P_A·G‖² for a uniformly random r-plane col(A) has mean
 * (r/d)·‖G‖² and variance 2r(d − r)/((d − 1)d(d + 2))·(‖GGᵀ‖² − ‖G‖⁴/d) (docs/math.md). Checked on
 * cases known in closed form and against the sample variance of many gaussian draws.
 */
import { describe, expect, it } from 'vitest';
import { initFactor, randomStream } from '../../src/lora/init.ts';
import { drawsFor, energyLaw } from '../../src/verify/claims-init.ts';
import { mat, matmul, norm, qr, transpose } from '../../src/verify/dense.ts';

const identity = (n: number) => mat(n, n, Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)));

describe('the law of E(A, G) for a random r-plane', () => {
  it('d = 2, r = 1, G a unit vector: uᵀP_Au = cos²θ, mean 1/2, variance 3/8 − 1/4 = 1/8', () => {
    expect(energyLaw(2, 1, mat(2, 1, Float64Array.from([1, 0])))).toEqual({ mean: 0.5, variance: 0.125, gap: 1 / 6 });
  });

  it('G = I: ‖P_A‖² = r always, variance 0; rank-1 G: the Beta(r/2, (d − r)/2) variance 2r(d − r)/(d²(d + 2))', () => {
    const law = energyLaw(5, 2, identity(5));
    expect(law.mean).toBeCloseTo(2, 14);
    expect(law.variance).toBeCloseTo(0, 14);
    const u = mat(6, 1, Float64Array.from([3, 0, 4, 0, 0, 0])); // ‖u‖ = 5
    expect(energyLaw(6, 2, u).variance).toBeCloseTo(625 * (2 * 2 * 4) / (36 * 8), 10);
  });

  it('matches the sample mean and variance of 40,000 gaussian draws (d 4, r 2, G [4, 3])', () => {
    const G = mat(4, 3, Float64Array.from([1, -2, 0.5, 0.3, 1, -1, 2, 0, 1, -0.5, 0.7, 0.2]));
    const stream = randomStream('test', 5);
    const S = 40_000;
    let sum = 0, sum2 = 0;
    for (let s = 0; s < S; s++) {
      const { Q } = qr(mat(4, 2, initFactor('test', 'gaussian', 4, 2, 'columns', stream)));
      const e = norm(matmul(transpose(Q), G)) ** 2;
      sum += e;
      sum2 += e * e;
    }
    const law = energyLaw(4, 2, G);
    const mean = sum / S, variance = sum2 / S - mean ** 2;
    expect(Math.abs(mean - law.mean)).toBeLessThan(5 * Math.sqrt(law.variance / S));
    expect(variance / law.variance).toBeGreaterThan(0.96);
    expect(variance / law.variance).toBeLessThan(1.04);
  });

  it('draws enough that r/(d + 1) lies 2Z + 1 = 11 standard errors away, and at least 64', () => {
    expect(drawsFor({ variance: 1, gap: 1 })).toBe(121);
    expect(drawsFor({ variance: 1e-6, gap: 1 })).toBe(64);
  });
});
