/**
 * lorafa's WebGPU backend against TensorFlow.js's webgpu backend (4.22.0), in one process on one
 * adapter: both get their device from the same Dawn instance (Node's `webgpu` package; on a machine
 * without a GPU, Mesa's llvmpipe through OpenGL at featureLevel 'compatibility'). tfjs finds it as
 * `navigator.gpu`, whose requestAdapter is made to ask for that feature level.
 *
 *   npm run bench:webgpu                 # writes the 'webgpu' section of bench/RESULTS.md
 *   npx tsx bench/webgpu.ts --runs 9     # more runs; --big adds 2048³; --quick: small shapes, prints only
 *
 * Every case is timed as "one call, then read its whole result back to the host" (so nothing
 * queued is left unmeasured), lorafa and tfjs interleaved run by run (A B A B …: load from other
 * processes hits both alike), WARMUP untimed runs each first; the table gives medians, GFLOP/s
 * = flops / median and the ratio of the medians. Cases:
 *   - float32 matmul n³;
 *   - the three LoRA products of one layer: X·A, dY·Bᵀ (thin outputs, n = r) and (XA)ᵀ·dY (r × o, k = N);
 *   - one LoRA-FA step: Y = X·W + σ·(X·A)·B forward, then B's closed-form gradient
 *     (1/σ)·(AᵀA)⁻¹·(XA)ᵀ·dY (lorafa: ops.loraFA + backward(dY); tfjs: the same products with
 *     tf.matMul/mul/add and (AᵀA)⁻¹/σ, computed on the host once, applied as one more r×r product).
 * Dispatches per LoRA-FA step are counted for both: lorafa's from its counters, tfjs's by counting
 * GPUComputePassEncoder.dispatchWorkgroups calls during its step.
 */
import os from 'node:os';
import { writeSection } from './results.ts';
import { initWebGpu, ops, prepareLoraFactor, scope, tensor, type Tensor, type WebGpu } from '../src/index.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 7;
if (!(Number.isInteger(RUNS) && RUNS >= 5)) throw new Error(`--runs: expected an integer ≥ 5, got ${args[runsAt + 1]}`);
const WARMUP = 2;
const QUICK = flag('--quick');

// one Dawn instance for both (EGL needs a platform without a display)
process.env.EGL_PLATFORM ??= 'surfaceless';
const dawnModule = (await import('webgpu')) as unknown as { create(flags: string[]): GPU; globals: Record<string, unknown> };
Object.assign(globalThis, dawnModule.globals); // GPUBufferUsage & co., which tfjs reads as globals
const dawn = dawnModule.create(['backend=opengl']);
const gpu = (await initWebGpu({ gpu: dawn, featureLevel: 'compatibility' })) as WebGpu;
const forcedCompat = {
  requestAdapter: (o?: GPURequestAdapterOptions) => dawn.requestAdapter({ ...o, featureLevel: 'compatibility' } as GPURequestAdapterOptions),
  getPreferredCanvasFormat: () => 'rgba8unorm',
  wgslLanguageFeatures: (dawn as unknown as { wgslLanguageFeatures: unknown }).wgslLanguageFeatures,
};
(globalThis as unknown as { navigator: unknown }).navigator = { gpu: forcedCompat };
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise on this adapter');
await tf.ready();
type TfTensor = import('@tensorflow/tfjs-core').Tensor;

/** One side of a case: run() computes once and resolves to its result, read back to the host. */
interface Side {
  run(): Promise<ArrayLike<number>>;
  dispose(): void;
}

interface Case {
  label: string;
  flops: number;
  lorafa: () => Side | Promise<Side>;
  tfjs: () => Side;
  /** What lorafa's matmul plan chose (for the table). */
  plan?: string;
}

/** Seeded uniform floats in [-1, 1) (the same operands for both sides). */
function floats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5; // xorshift32
    out[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

function lorafaTensor(data: Float32Array, shape: number[], parameter = false): Tensor {
  return tensor(data, { shape, device: 'webgpu', parameter });
}

/** op(a)·op(b) with a [m, k] (or [k, m] when transA) and b [k, n] (or [n, k] when transB). */
function matmulCase(label: string, m: number, n: number, k: number, transA = false, transB = false): Case {
  const aShape = transA ? [k, m] : [m, k], bShape = transB ? [n, k] : [k, n];
  const a = floats(m * k, 1), b = floats(k * n, 2);
  return {
    label, flops: 2 * m * n * k,
    lorafa: async () => {
      const ta = lorafaTensor(a, aShape), tb = lorafaTensor(b, bShape);
      return {
        run: async () => {
          const out = ops.matmul(ta, tb, { transA, transB });
          const data = await out.data();
          out.dispose();
          return data;
        },
        dispose: () => (ta.dispose(), tb.dispose()),
      };
    },
    tfjs: () => {
      const ta = tf.tensor2d(a, aShape as [number, number]), tb = tf.tensor2d(b, bShape as [number, number]);
      return {
        run: async () => {
          const out = tf.matMul(ta, tb, transA, transB);
          const data = await out.data();
          out.dispose();
          return data;
        },
        dispose: () => (ta.dispose(), tb.dispose()),
      };
    },
  };
}

/** (AᵀA)⁻¹/σ [r, r] in float64 on the host (Gauss–Jordan; A [d, r] row-major). */
function gramInverseOverSigma(A: Float32Array, d: number, r: number, sigma: number): Float32Array {
  const M = Array.from({ length: r }, (_, i) => Array.from({ length: 2 * r }, (_, j) => (j === r + i ? 1 : 0)));
  for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) for (let l = 0; l < d; l++) M[i]![j]! += A[l * r + i]! * A[l * r + j]!;
  for (let c = 0; c < r; c++) {
    const p = M[c]![c]!;
    for (let j = 0; j < 2 * r; j++) M[c]![j]! /= p;
    for (let i = 0; i < r; i++) {
      if (i === c) continue;
      const f = M[i]![c]!;
      for (let j = 0; j < 2 * r; j++) M[i]![j]! -= f * M[c]![j]!;
    }
  }
  return Float32Array.from({ length: r * r }, (_, i) => M[Math.floor(i / r)]![r + (i % r)]! / sigma);
}

/** One LoRA-FA step (forward, then B's closed-form gradient). */
function loraFaCase(N: number, d: number, o: number, r: number): Case {
  const sigma = 2;
  const X = floats(N * d, 1), W = floats(d * o, 2), A = floats(d * r, 3), B = floats(r * o, 4), dY = floats(N * o, 5);
  // forward X·W, X·A, (XA)·B; backward (XA)ᵀ·dY and the r×r solve
  const flops = 2 * N * d * o + 2 * N * d * r + 2 * N * r * o + 2 * r * N * o + 2 * r * r * o;
  return {
    label: `LoRA-FA step, N=${N}, d=o=${d}, r=${r}`, flops,
    lorafa: async () => {
      const [x, w, a, b, dy] = [
        lorafaTensor(X, [N, d]), lorafaTensor(W, [d, o], true), lorafaTensor(A, [d, r], true), lorafaTensor(B, [r, o], true), lorafaTensor(dY, [N, o]),
      ];
      b.requiresGrad = true;
      await prepareLoraFactor(a, 'columns'); // (AᵀA)'s Cholesky factor, cached (one read-back of A, once)
      return {
        run: async () => {
          scope(() => ops.loraFA(x, w, a, b, { scale: sigma }).backward(dy));
          const g = b.grad!;
          b.grad = null;
          const data = await g.data();
          g.dispose();
          return data;
        },
        dispose: () => [x, w, a, b, dy].forEach((t) => t.dispose()),
      };
    },
    tfjs: () => {
      const x = tf.tensor2d(X, [N, d]), w = tf.tensor2d(W, [d, o]), a = tf.tensor2d(A, [d, r]), b = tf.tensor2d(B, [r, o]), dy = tf.tensor2d(dY, [N, o]);
      const solve = tf.tensor2d(gramInverseOverSigma(A, d, r, sigma), [r, r]);
      return {
        run: async () => {
          const g = tf.tidy(() => {
            const xa = tf.matMul(x, a);
            const y = tf.add(tf.matMul(x, w), tf.mul(tf.matMul(xa, b), sigma));
            tf.keep(y);
            const grad = tf.matMul(solve, tf.matMul(xa, dy, true, false));
            return [y, grad];
          });
          const data = await g[1]!.data();
          g.forEach((t: TfTensor) => t.dispose());
          return data;
        },
        dispose: () => [x, w, a, b, dy, solve].forEach((t) => t.dispose()),
      };
    },
  };
}

function relativeDifference(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return x.length === y.length ? diff / scale : Infinity;
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q), h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

interface Row {
  label: string;
  flops: number;
  lorafa: number[];
  tfjs: number[];
  /** max |lorafa − tfjs| / max |tfjs| over the result of the last run. */
  difference: number;
}

/** Times both sides of a case, interleaved run by run. */
async function measure(c: Case): Promise<Row> {
  const sides = { lorafa: await c.lorafa(), tfjs: c.tfjs() };
  const row: Row = { label: c.label, flops: c.flops, lorafa: [], tfjs: [], difference: NaN };
  const last: Partial<Record<'lorafa' | 'tfjs', ArrayLike<number>>> = {};
  for (let i = -WARMUP; i < RUNS; i++) {
    for (const name of ['tfjs', 'lorafa'] as const) {
      const t0 = performance.now();
      last[name] = await sides[name].run();
      if (i >= 0) row[name].push(performance.now() - t0);
    }
  }
  row.difference = relativeDifference(last.lorafa!, last.tfjs!);
  sides.lorafa.dispose();
  sides.tfjs.dispose();
  const fmt = (xs: number[]) => `${median(xs).toFixed(1)} ms`;
  console.error(`${c.label}: lorafa ${fmt(row.lorafa)}, tfjs ${fmt(row.tfjs)}, ratio ${(median(row.tfjs) / median(row.lorafa)).toFixed(2)}`);
  return row;
}

/** Dispatches (and, for lorafa, submits) of one LoRA-FA step of each side, after a warm-up step. */
async function dispatchesPerStep(c: Case): Promise<{ lorafa: number; submits: number; tfjs: number }> {
  const proto = (globalThis as unknown as { GPUComputePassEncoder: { prototype: GPUComputePassEncoder } }).GPUComputePassEncoder.prototype;
  const original = proto.dispatchWorkgroups;
  let counted = 0;
  proto.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...a: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>) {
    counted++;
    return original.apply(this, a);
  };
  try {
    const l = await c.lorafa(), t = c.tfjs();
    await l.run();
    await t.run();
    const before = { ...gpu.counters };
    await l.run();
    const lorafa = gpu.counters.dispatches - before.dispatches, submits = gpu.counters.submits - before.submits;
    counted = 0;
    await t.run();
    const tfjs = counted;
    l.dispose();
    t.dispose();
    return { lorafa, submits, tfjs };
  } finally {
    proto.dispatchWorkgroups = original;
  }
}

const sizes = QUICK ? [64, 128] : [256, 512, 1024, ...(flag('--big') ? [2048] : [])];
const [N, d, r] = QUICK ? [256, 128, 8] : [4096, 1024, 16];
const step = QUICK ? loraFaCase(128, 64, 64, 4) : loraFaCase(1024, 1024, 1024, 16);
const cases: Case[] = [
  ...sizes.map((s) => matmulCase(`matmul ${s}³`, s, s, s)),
  matmulCase(`X·A [${N}, ${d}]·[${d}, ${r}]`, N, r, d),
  matmulCase(`dY·Bᵀ [${N}, ${d}]·[${r}, ${d}]ᵀ`, N, r, d, false, true),
  matmulCase(`(XA)ᵀ·dY [${N}, ${r}]ᵀ·[${N}, ${d}]`, r, d, N, true),
  step,
];

const loadStart = os.loadavg();
const started = new Date();
const rows: Row[] = [];
for (const c of cases) rows.push(await measure(c));
const counts = await dispatchesPerStep(step);
const loadEnd = os.loadavg();

const ms = (xs: number[]) => median(xs).toFixed(1);
const gflops = (row: Row, xs: number[]) => (row.flops / median(xs) / 1e6).toFixed(2);
const spread = (xs: number[]) => `±${((50 * (Math.max(...xs) - Math.min(...xs))) / median(xs)).toFixed(0)}%`;
const command = `npm run bench:webgpu${args.length ? ` -- ${args.join(' ')}` : ''}`;
const section = [
  '## WebGPU: lorafa against tfjs-backend-webgpu 4.22.0 (same process, same adapter)',
  '',
  `Command: \`${command}\` (bench/webgpu.ts), ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
  `Adapter: ${gpu.description}; tfjs requests its own device from the same Dawn instance and adapter.`,
  `Machine: ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}; load average (1, 5, 15 min) ` +
    `${loadStart.map((x) => x.toFixed(2)).join(', ')} at the start, ${loadEnd.map((x) => x.toFixed(2)).join(', ')} at the end (other processes share the CPUs llvmpipe runs on).`,
  `Each run is one call whose whole result is then read back to the host; lorafa and tfjs alternate run by run, ${WARMUP} warm-up runs each,`,
  `then the median of ${RUNS} (± half the max–min spread over the median). Ratio = tfjs ms / lorafa ms (> 1: lorafa faster);`,
  '"results differ by" = max |lorafa − tfjs| / max |tfjs| over the last run\'s whole result (both compute the same products).',
  '',
  '| case | lorafa ms | tfjs ms | lorafa GFLOP/s | tfjs GFLOP/s | lorafa / tfjs | results differ by |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((row) => `| ${row.label} | ${ms(row.lorafa)} ${spread(row.lorafa)} | ${ms(row.tfjs)} ${spread(row.tfjs)} | ${gflops(row, row.lorafa)} | ${gflops(row, row.tfjs)} | ${(median(row.tfjs) / median(row.lorafa)).toFixed(2)}× | ${row.difference.toExponential(1)} |`),
  '',
  `Dispatches of one LoRA-FA step (${step.label.replace('LoRA-FA step, ', '')}, forward + B's gradient): lorafa ${counts.lorafa} ` +
    `(${counts.submits} submit${counts.submits === 1 ? '' : 's'}, including the read-back's), tfjs ${counts.tfjs}.`,
].join('\n');
console.log(section);
if (!QUICK) writeSection('webgpu', section);
gpu.dispose();
process.exit(0);
