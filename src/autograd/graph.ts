/**
 * The autograd graph behind a tensor, as data: `graphOf(y)` lists the op nodes (one per Context
 * reachable from y.gradFn), the leaves that receive gradients, the edges along which the forward
 * pass fed each op, and every tensor each op keeps for backward with its shape and bytes —
 * counted as measureSaved counts them (saved.ts): deduplicated by storage (the first save in
 * forward order carries the bytes), parameters 0 bytes. So for a graph built inside
 * measureSaved, `graphOf(y).savedBytes === measureSaved(...).bytes` while nothing is released.
 *
 *   const y = ops.loraFA(x, W, A, B, { scale: 2 });
 *   const g = graphOf(y);   // { nodes, edges, savedBytes }
 *   toDot(g);               // Graphviz:  dot -Tsvg
 *   toMermaid(g);           // Mermaid:   ```mermaid … ``` in Markdown
 */
import type { Tensor } from '../tensor.ts';
import type { DType } from '../dtype.ts';
import { describe, fail, fmtShape } from '../errors.ts';
import type { Context } from './function.ts';
import { forwardOrder } from './engine.ts';
import type { SavedEntry } from './saved.ts';

export interface GraphSaved {
  shape: number[];
  dtype: DType;
  /** Bytes this save adds: 0 for parameters and for a storage an earlier node already keeps. */
  bytes: number;
  kind: SavedEntry['kind'];
}

export interface GraphNode {
  id: string;
  /** 'op': an op application (its Context); 'leaf': a tensor that receives .grad. */
  type: 'op' | 'leaf';
  /** The op's name ('lora_fa', 'matmul', …); for a leaf 'parameter' or 'input'. */
  label: string;
  /** Dotted module path the op ran in ('' outside modules; '' for leaves). */
  module: string;
  /** The op's output shape, or the leaf's shape. */
  shape: number[];
  saved: GraphSaved[];
}

/** The forward data flow: `from`'s output was argument `input` of `to`. */
export interface GraphEdge {
  from: string;
  to: string;
  input: number;
}

export interface AutogradGraph {
  /** In forward order: every node after the nodes that feed it; y's own op is last. */
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Sum of the saved bytes (what measureSaved reports for the same live graph). */
  savedBytes: number;
}

/** The graph recorded behind y (which must require grad). Released contexts show no saved tensors. */
export function graphOf(y: Tensor): AutogradGraph {
  y.assertAlive('graphOf');
  if (!y.requiresGrad) {
    fail('graphOf', `${describe('tensor', y)} does not require grad, so no graph was recorded; expected an output of ops on tensors that require grad`);
  }
  if (!y.gradFn) {
    return { nodes: [{ id: 'n0', type: 'leaf', label: leafLabel(y), module: '', shape: [...y.shape], saved: [] }], edges: [], savedBytes: 0 };
  }
  const order = forwardOrder(y.gradFn);
  const ids = new Map<Context | Tensor, string>();
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const seen = new Set<number>();
  let savedBytes = 0;
  const idOf = (key: Context | Tensor, make: (id: string) => GraphNode): string => {
    let id = ids.get(key);
    if (!id) {
      id = `n${ids.size}`;
      ids.set(key, id);
      nodes.push(make(id));
    }
    return id;
  };
  for (const ctx of order) {
    const inputs = ctx.edges.map((e) => {
      if (!e) return null;
      if ('gradFn' in e) return ids.get(e.gradFn)!; // earlier in forward order
      const leaf = e.leaf;
      return idOf(leaf, (id) => ({ id, type: 'leaf', label: leafLabel(leaf), module: '', shape: [...leaf.shape], saved: [] }));
    });
    const saved = ctx.savedInfos.map((s): GraphSaved => {
      const first = s.kind === 'activation' && !seen.has(s.storageId);
      if (first) seen.add(s.storageId);
      const bytes = first ? s.storageBytes : 0;
      savedBytes += bytes;
      return { shape: [...s.shape], dtype: s.dtype, bytes, kind: s.kind };
    });
    const id = idOf(ctx, (nid) => ({ id: nid, type: 'op', label: ctx.opName, module: ctx.module, shape: [...ctx.outputShape], saved }));
    inputs.forEach((from, input) => from && edges.push({ from, to: id, input }));
  }
  return { nodes, edges, savedBytes };
}

function leafLabel(t: Tensor): string {
  return t.isParameter ? 'parameter' : 'input';
}

/** One line per saved tensor: "saves [N, r] float32 · 128 B" (parameters: "param, 0 B"). */
export function savedLines(node: GraphNode): string[] {
  return node.saved.map((s) => `saves ${fmtShape(s.shape)} ${s.dtype} · ${s.kind === 'parameter' ? 'param, 0 B' : `${s.bytes} B`}`);
}

function nodeText(n: GraphNode): string[] {
  const head = n.type === 'op' ? `${n.label}${n.module ? ` (${n.module})` : ''} → ${fmtShape(n.shape)}` : `${n.label} ${fmtShape(n.shape)}`;
  return [head, ...savedLines(n)];
}

/** Graphviz DOT: ops as boxes, leaves as ellipses, each node with what it saves. */
export function toDot(g: AutogradGraph): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const lines = g.nodes.map((n) => `  ${n.id} [shape=${n.type === 'op' ? 'box' : 'ellipse'}, label="${nodeText(n).map(esc).join('\\n')}"];`);
  const edges = g.edges.map((e) => `  ${e.from} -> ${e.to} [label="${e.input}"];`);
  return `digraph autograd {\n  rankdir=LR;\n${[...lines, ...edges].join('\n')}\n  label="saved for backward: ${g.savedBytes} B";\n}\n`;
}

/** Mermaid flowchart (left to right), the same content as toDot. */
export function toMermaid(g: AutogradGraph): string {
  const esc = (s: string) => s.replace(/"/g, '#quot;');
  const lines = g.nodes.map((n) => {
    const text = `"${nodeText(n).map(esc).join('<br/>')}"`;
    return `  ${n.id}${n.type === 'op' ? `[${text}]` : `([${text}])`}`;
  });
  const edges = g.edges.map((e) => `  ${e.from} -->|${e.input}| ${e.to}`);
  return `flowchart LR\n${[...lines, ...edges].join('\n')}\n`;
}
