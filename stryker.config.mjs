// @ts-check
/**
 * Mutation testing (`npm run mutate`; docs/verification.md has the score and every survivor).
 * StrykerJS mutates the LoRA ops and layers, the autograd core and the analytic memory model, and
 * runs, for each mutant, the tests of vitest.mutate.config.ts that cover it (per-test coverage).
 * Slow on two cores: run it per folder and incrementally, e.g.
 *   npm run mutate -- --mutate 'src/memory/**' 
 * Results are kept in reports/ (not committed); with --incremental only changed mutants rerun.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutate.config.ts', related: false },
  mutate: ['src/lora/**/*.ts', 'src/autograd/function.ts', 'src/autograd/engine.ts', 'src/autograd/saved.ts', 'src/memory/**/*.ts'],
  coverageAnalysis: 'perTest',
  // module-level mutants (the transcribed tables, catalogues, constants) would rerun every test with a fresh module graph: 86% of the time for 1/3 of the mutants; docs/verification.md says how those tables are pinned instead
  ignoreStatic: true,
  concurrency: 2,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  ignorePatterns: ['/dist', '/runs', '/bench/*.md'],
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // with --reporters event-recorder, each mutant's result is written as it comes: a run stopped early still has them
  eventReporter: { baseDir: process.env.MUTATE_EVENTS ?? 'reports/mutation/events' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  timeoutMS: 20000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
