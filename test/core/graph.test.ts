import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { graphOf, measureSaved, memory, ops, randn, toDot, toMermaid, withModule } from '../../src/index.ts';
import { expectedElements, singleLayerForward } from '../../src/verify/index.ts';
import { dim } from '../helpers/arbitraries.ts';

describe('graphOf: the autograd graph with what each node saves', () => {
  it("saved bytes equal measureSaved's for every adapter kind (Full-FT, LoRA, LoRA-FA, LoRA-FB, LoRA-Pro, DoRA, VeRA), with and without dropout, and the analytic model's", () => {
    fc.assert(fc.property(dim(12), dim(12), dim(12), fc.constantFrom(0, 0.25), fc.constantFrom('float32' as const, 'float64' as const), fc.nat(),
      (N, d, o, p, dtype, seed) => {
        const r = Math.min(d, o, 3);
        for (const kind of memory.ADAPTER_KINDS) {
          const report = measureSaved(singleLayerForward(kind, { N, d, o, r, p, seed, dtype }));
          const g = graphOf(report.result);
          expect(g.savedBytes).toBe(report.bytes);
          expect(g.savedBytes).toBe(expectedElements(kind, N, d, o, r) * (dtype === 'float32' ? 4 : 8));
          // the per-node entries are measureSaved's entries (same shapes, kinds, bytes), in save order
          const fromGraph = g.nodes.flatMap((n) => n.saved.map((s) => [n.label, s.shape, s.kind, s.bytes]));
          expect(fromGraph).toEqual(report.entries.map((e) => [e.op, e.shape, e.kind, e.bytes]));
          report.result.sum().backward();
          expect(graphOf(report.result).savedBytes).toBe(0); // released by backward
        }
      }), { numRuns: 25 });
  });

  it("LoRA-FA keeps XA [N, r] on its node (and (AᵀA)'s float64 factor [r, r], a parameter); B is the one leaf, with an edge into it", () => {
    const y = singleLayerForward('lorafa', { N: 5, d: 7, o: 3, r: 2, p: 0, seed: 1, dtype: 'float32' })();
    const g = graphOf(y);
    expect(g.nodes.map((n) => [n.type, n.label, n.shape])).toEqual([['leaf', 'parameter', [2, 3]], ['op', 'loraFA', [5, 3]]]);
    expect(g.nodes[1]!.saved).toEqual([
      { shape: [5, 2], dtype: 'float32', bytes: 40, kind: 'activation' },
      { shape: [2, 2], dtype: 'float64', bytes: 0, kind: 'parameter' },
    ]);
    expect(g.edges).toEqual([{ from: 'n0', to: 'n1', input: 3 }]);
  });

  it('a chain: one node per op in forward order, modules, shared storage counted once, and the exports', () => {
    const x = randn([4, 3], { seed: 1, requiresGrad: true });
    const W = randn([3, 2], { seed: 2, parameter: true, requiresGrad: true });
    const y = withModule('layer', () => ops.tanh(ops.matmul(x, W)));
    const z = ops.mul(y, y); // saves y twice: one storage, counted once (it is also tanh's saved output)
    const g = graphOf(z);
    expect(g.nodes.map((n) => `${n.type}:${n.label}:${n.module}`)).toEqual(['leaf:input:', 'leaf:parameter:', 'op:matmul:layer', 'op:tanh:layer', 'op:mul:']);
    expect(g.edges).toEqual([
      { from: 'n0', to: 'n2', input: 0 }, { from: 'n1', to: 'n2', input: 1 }, { from: 'n2', to: 'n3', input: 0 },
      { from: 'n3', to: 'n4', input: 0 }, { from: 'n3', to: 'n4', input: 1 },
    ]);
    // x is a leaf that requires grad but not a parameter: an activation (x.W needs it for ∂W)
    expect(g.savedBytes).toBe(4 * 3 * 4 + 4 * 2 * 4);
    expect(g.nodes[4]!.saved.map((s) => s.bytes)).toEqual([0, 0]);
    const dot = toDot(g);
    expect(dot).toMatch(/^digraph autograd \{/);
    expect(dot).toContain('n2 [shape=box, label="matmul (layer) → [4, 2]\\nsaves [4, 3] float32 · 48 B\\nsaves [3, 2] float32 · param, 0 B"];');
    expect(dot).toContain('n0 -> n2 [label="0"];');
    expect(dot).toContain('label="saved for backward: 80 B"');
    const mermaid = toMermaid(g);
    expect(mermaid).toMatch(/^flowchart LR\n/);
    expect(mermaid).toContain('n0(["input [4, 3]"])');
    expect(mermaid).toContain('n3["tanh (layer) → [4, 2]<br/>saves [4, 2] float32 · 32 B"]');
    expect(mermaid).toContain('n3 -->|1| n4');
  });

  it('a leaf that requires grad is a one-node graph; a tensor without grad is a clear error', () => {
    const w = randn([2], { requiresGrad: true });
    expect(graphOf(w)).toEqual({ nodes: [{ id: 'n0', type: 'leaf', label: 'input', module: '', shape: [2], saved: [] }], edges: [], savedBytes: 0 });
    expect(() => graphOf(randn([2, 3]))).toThrow(/graphOf: tensor \[2, 3\] \(float32, cpu\) does not require grad/);
    const gone = randn([2], { requiresGrad: true });
    gone.dispose();
    expect(() => graphOf(gone)).toThrow(/graphOf/);
  });
});
