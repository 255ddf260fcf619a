// The LoRA-FA problem every consumer runs: X [N, d], frozen W [d, o] and A [d, r], trained B [r, o],
// upstream gradient dY [N, o], a negative scale σ; drawn from lorafa's seeded generator.
export const [N, d, o, r, sigma] = [48, 20, 12, 5, -1.75];

export function problem(randn, dtype) {
  return {
    x: randn([N, d], { dtype, seed: 1 }),
    W: randn([d, o], { dtype, seed: 2, parameter: true }),
    A: randn([d, r], { dtype, seed: 3, parameter: true }),
    B: randn([r, o], { dtype, seed: 4, parameter: true, requiresGrad: true }),
    dY: randn([N, o], { dtype, seed: 5 }),
  };
}
