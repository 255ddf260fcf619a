/**
 * The layering rules (.dependency-cruiser.cjs) hold on src/, and each of them fails on a fixture
 * tree made to break it once (test/fixtures/layering: one deliberately wrong import per rule, plus
 * a type-only circle that must pass).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const depcruise = `${root}node_modules/.bin/depcruise`;

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** The violations depcruise finds in `src` below cwd, as "rule: from → to". */
async function violations(cwd: string): Promise<string[]> {
  const run = promisify(execFile);
  const args = ['src', '--config', `${root}.dependency-cruiser.cjs`, '--output-type', 'json'];
  // depcruise exits with the number of errors: a failing exit still carries the report
  const { stdout } = await run(depcruise, args, { cwd, maxBuffer: 1 << 26 }).catch((e: { stdout?: string }) => {
    if (!e.stdout) throw e;
    return { stdout: e.stdout };
  });
  const report = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
}

describe('layering', () => {
  it('src/ follows every rule', async () => {
    expect(await violations(root)).toEqual([]);
  });

  it('each rule fails on its deliberately wrong import in the fixture tree, and a type-only circle passes', async () => {
    expect(await violations(`${root}test/fixtures/layering`)).toEqual([
      'autograd-below-layers: src/autograd/engine.ts → src/nn/optim.ts',
      'autograd-below-layers: src/autograd/function.ts → src/tensor.ts',
      'backend-folders-private: src/autograd/ops/peek.ts → src/backends/cpu/kernels/rows.ts',
      'backends-apart: src/backends/webgpu/kernels/cross.ts → src/backends/cpu/kernels/rows.ts',
      'backends-below-autograd: src/backends/cpu/kernels/bad.ts → src/autograd/engine.ts',
      'core-entries-platform-neutral: src/index.ts → src/data/words.ts',
      'core-imports-only-core: src/shape.ts → src/factories.ts',
      'library-not-app: src/lora/layers.ts → src/lab/report.ts',
      'nn-below-lora: src/nn/linear.ts → src/lora/layers.ts',
      'no-circular: src/io/cycle-a.ts → src/io/cycle-b.ts',
      'node-only-in-node-modules: src/io/reader.ts → fs',
      'not-to-unresolvable: src/data/text.ts → ./missing.ts',
    ]);
  });
});
