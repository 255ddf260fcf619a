import fc from 'fast-check';

/** Small sizes that include 1 and primes (edges of tiles and blocks are tested separately). */
export const dim = (max = 7): fc.Arbitrary<number> => fc.integer({ min: 1, max });

/** A shape of rank in [minRank, maxRank] with sizes in [1, maxDim]. */
export const shape = (minRank = 0, maxRank = 3, maxDim = 5): fc.Arbitrary<number[]> =>
  fc.array(dim(maxDim), { minLength: minRank, maxLength: maxRank });

/**
 * Two shapes that broadcast together, mutually: from an output shape, each axis independently is
 * the same size in both, or 1 on the left, or 1 on the right (so [3, 1] with [1, 4] occurs, where
 * backward reduces both operands); then one side may lose leading axes (ranks differ, down to 0).
 */
export const broadcastPair = (maxRank = 3, maxDim = 4): fc.Arbitrary<[number[], number[]]> =>
  shape(0, maxRank, maxDim).chain((out) =>
    fc.tuple(
      fc.array(fc.constantFrom('same', 'left1', 'right1'), { minLength: out.length, maxLength: out.length }),
      fc.integer({ min: 0, max: out.length }),
      fc.boolean(),
    ).map(([axes, drop, dropLeft]) => {
      const a = out.map((d, i) => (axes[i] === 'left1' ? 1 : d));
      const b = out.map((d, i) => (axes[i] === 'right1' ? 1 : d));
      return dropLeft ? [a.slice(drop), b] : [a, b.slice(drop)];
    }),
  );

/** A seed for the engine's own random tensors, so each case gets different data. */
export const seed = fc.integer({ min: 0, max: 0xffffffff });
