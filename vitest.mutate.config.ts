/**
 * The tests StrykerJS runs against each mutant (`npm run mutate`, stryker.config.mjs): every suite
 * that exercises src/lora, the autograd core and src/memory on the CPU, without the WebGPU suites
 * (a GPU device per mutant run is too slow on llvmpipe, and the CPU stand-ins cover the same code)
 * and without the deep-graph stress test (three minutes of million-op chains, no LoRA code).
 * MUTATE_TESTS (comma-separated globs) narrows the list for a run over one folder, e.g.
 *   MUTATE_TESTS='test/core/*.test.ts' npm run mutate -- --mutate 'src/autograd/engine.ts'
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

// not mergeConfig: it would append these lists to the base's `test/**/*.test.ts`
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: process.env.MUTATE_TESTS?.split(',') ?? [
      'test/core/**/*.test.ts', 'test/nn/**/*.test.ts', 'test/lora/**/*.test.ts', 'test/memory/**/*.test.ts',
      'test/verify/**/*.test.ts', 'test/lab/accounting.test.ts', 'test/bench/memory.test.ts', 'test/io/peft.test.ts',
      'test/hostile/lora.test.ts',
    ],
    exclude: ['test/core/deep-graph.test.ts', 'test/lora/webgpu*.test.ts', '**/node_modules/**'],
  },
});
