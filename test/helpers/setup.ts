import fc from 'fast-check';

/**
 * Property tests run with a fixed seed in CI (reproducible) and can run longer locally:
 *   FC_RUNS=1000 FC_SEED=123 npm test
 */
fc.configureGlobal({
  seed: Number(process.env.FC_SEED ?? 20261128),
  numRuns: Number(process.env.FC_RUNS ?? 25),
});
