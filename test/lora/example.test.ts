/** examples/lora-fa-by-hand.ts runs, and its numbers are the ones docs/lora.md prints. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectClose } from '../helpers/allclose.ts';
import '../../src/index.ts'; // the library loads with the test file; the example's own code runs in the test

afterEach(() => vi.restoreAllMocks());

describe('examples/lora-fa-by-hand.ts', () => {
  it('ends with B.grad = g̃_B = [[0.5, 0.5], [0, −1]], saving only XA', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const { B } = await import('../../examples/lora-fa-by-hand.ts');
    expectClose(B.grad!.dataSync(), [0.5, 0.5, 0, -1], { atol: 1e-12, rtol: 0 });
    const out = log.mock.calls.map((c) => c.join(' ')).join('\n');
    expect(out).toMatch(/g̃_B = \(1\/σ²\)\(AᵀA\)⁻¹·g_B\s+\[\[0\.5,0\.5\],\[0,-1\]\]/);
    expect(out).toMatch(/4\. ops\.loraFA → B\.grad\s+\[\[0\.5,0\.5\],\[0,-1\]\]/);
    expect(out).toMatch(/Aᵀ·\(G − σ·A·g̃_B\) {2}\(= 0\)\s+\[\[0,0\],\[0,0\]\]/);
    expect(out).toContain('6. saved for backward: activation [3, 2] 48 B; parameter [2, 2] 0 B');
  });
});
