import fc from 'fast-check';

/** Small sizes that include 1 and primes (edges of tiles and blocks are tested separately). */
export const dim = (max = 7): fc.Arbitrary<number> => fc.integer({ min: 1, max });

/** A shape of rank in [minRank, maxRank] with sizes in [1, maxDim]. */
export const shape = (minRank = 0, maxRank = 3, maxDim = 5): fc.Arbitrary<number[]> =>
  fc.array(dim(maxDim), { minLength: minRank, maxLength: maxRank });

/** Two shapes that broadcast together: b is a suffix of a's shape with some sizes replaced by 1. */
export const broadcastPair = (maxRank = 3, maxDim = 4): fc.Arbitrary<[number[], number[]]> =>
  shape(0, maxRank, maxDim).chain((a) =>
    fc.tuple(fc.integer({ min: 0, max: a.length }), fc.array(fc.boolean(), { minLength: a.length, maxLength: a.length })).map(
      ([drop, ones]) => {
        const b = a.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
        return (ones[0] ? [b, a] : [a, b]) as [number[], number[]];
      },
    ),
  );

/** A seed for the engine's own random tensors, so each case gets different data. */
export const seed = fc.integer({ min: 0, max: 0xffffffff });
