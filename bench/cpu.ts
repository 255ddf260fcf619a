/**
 * The CPU backend's tiers against TensorFlow.js's WebAssembly backend (@tensorflow/tfjs-backend-wasm,
 * XNNPACK with SIMD, one thread), in one process: float32 matmuls 256³ … 2048³ and the three LoRA
 * products, float64 1024³ (tfjs has no float64 matmul), and one LoRA-FA step. Columns: median ms
 * and GFLOP/s of lorafa's JavaScript tier, its WebAssembly tier on one thread and on every core,
 * and tfjs-wasm; the ratio column is tfjs-wasm's time over the tier's (> 1: lorafa is faster).
 *
 *   npm run bench:cpu              # or: npx tsx bench/cpu.ts [--runs N]; writes bench/RESULTS.md
 *   npx tsx bench/cpu.ts --quick   # small shapes, to check the script; prints only
 *
 * Interleaved: after WARMUP untimed calls each, every round times one call of each contender, the
 * order rotating from round to round (A B C D, B C D A, …), so a change of load on this shared
 * machine hits every column alike; a cheap case gets more rounds (ROUND_MS), so that the median
 * is not decided by a few calls the scheduler interrupted. A lorafa contender's tensors are made under its own tier.
 *
 * The LoRA-FA step (the issue's definition): Y = X·W + σ·(X·A)·B forward, then B's closed-form
 * gradient σ·(XA)ᵀ·dY, with X [N, d], W [d, o], A [d, r], B [r, o] (W and A frozen): in lorafa
 * ops.loraFA(…).backward(dY), in tfjs the same three products, the sum and the scaled gradient.
 */
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { interleaved, type Call } from './interleave.ts';
import { writeSection } from './results.ts';
import { configureCpu, cpuInfo, initCpu, noGrad, ops, randn, scope, type CpuOptions } from '../src/index.ts';

interface Case {
  label: string;
  dtype: 'float32' | 'float64';
  /** A matmul [m, k]·[k, n] (A stored [k, m] with transA), or a LoRA-FA step. */
  matmul?: { m: number; n: number; k: number; transA: boolean };
  step?: { N: number; d: number; o: number; r: number };
}

interface Contender {
  name: string;
  /** The call for a case, or null where the contender has none (tfjs: float64). */
  prepare(c: Case): Call | null;
}

const flops = (c: Case): number => {
  if (c.matmul) return 2 * c.matmul.m * c.matmul.n * c.matmul.k;
  const { N, d, o, r } = c.step!;
  return 2 * N * d * o + 2 * N * d * r + 2 * N * r * o + 2 * r * N * o; // X·W, X·A, (XA)·B, (XA)ᵀ·dY
};

const mm = (label: string, m: number, n: number, k: number, transA = false, dtype: Case['dtype'] = 'float32'): Case =>
  ({ label, dtype, matmul: { m, n, k, transA } });

const FULL: Case[] = [
  mm('matmul 256³', 256, 256, 256),
  mm('matmul 512³', 512, 512, 512),
  mm('matmul 1024³', 1024, 1024, 1024),
  mm('matmul 2048³', 2048, 2048, 2048),
  mm('LoRA down [4096, 1024]·[1024, 16]', 4096, 16, 1024),
  mm('LoRA up [4096, 16]·[16, 1024]', 4096, 1024, 16),
  mm('LoRA-FA dB [4096, 16]ᵀ·[4096, 1024]', 16, 1024, 4096, true),
  mm('matmul 1024³ float64', 1024, 1024, 1024, false, 'float64'),
  { label: 'LoRA-FA step N=4096, d=o=1024, r=16', dtype: 'float32', step: { N: 4096, d: 1024, o: 1024, r: 16 } },
];

const QUICK: Case[] = [
  mm('matmul 64³', 64, 64, 64),
  mm('matmul 64³ float64', 64, 64, 64, false, 'float64'),
  { label: 'LoRA-FA step N=256, d=o=64, r=4', dtype: 'float32', step: { N: 256, d: 64, o: 64, r: 4 } },
];

const SCALE = 2;

/** lorafa's CPU backend under `options` (set before each call: the contenders share the backend). */
function lorafa(name: string, options: CpuOptions): Contender {
  return {
    name,
    prepare: (c) => {
      configureCpu(options);
      if (c.matmul) {
        const { m, n, k, transA } = c.matmul;
        const a = randn(transA ? [k, m] : [m, k], { dtype: c.dtype, seed: 1 }), b = randn([k, n], { dtype: c.dtype, seed: 2 });
        return {
          run: () => {
            configureCpu(options);
            noGrad(() => ops.matmul(a, b, { transA }).dispose());
          },
          dispose: () => (a.dispose(), b.dispose()),
        };
      }
      const { N, d, o, r } = c.step!;
      const x = randn([N, d], { seed: 1 }), dY = randn([N, o], { seed: 5 });
      const W = randn([d, o], { seed: 2, parameter: true }), A = randn([d, r], { seed: 3, parameter: true });
      const B = randn([r, o], { seed: 4, parameter: true, requiresGrad: true });
      return {
        run: () => {
          configureCpu(options);
          scope(() => ops.loraFA(x, W, A, B, { scale: SCALE }).backward(dY));
          B.grad!.dispose();
          B.grad = null;
        },
        dispose: () => [x, dY, W, A, B].forEach((t) => t.dispose()),
      };
    },
  };
}

/** Uniform values in [−1, 1). */
const values = (size: number): Float32Array => Float32Array.from({ length: size }, () => 2 * Math.random() - 1);

const tfjsWasm: Contender = {
  name: 'tfjs-wasm 1 thread',
  prepare: (c) => {
    if (c.dtype !== 'float32') return null;
    if (c.matmul) {
      const { m, n, k, transA } = c.matmul;
      const a = tf.tensor2d(values(m * k), transA ? [k, m] : [m, k]), b = tf.tensor2d(values(k * n), [k, n]);
      return { run: () => tf.matMul(a, b, transA, false).dispose(), dispose: () => (a.dispose(), b.dispose()) };
    }
    const { N, d, o, r } = c.step!;
    const [x, dY, W, A, B] = [[N, d], [N, o], [d, o], [d, r], [r, o]].map(([p, q]) => tf.tensor2d(values(p! * q!), [p!, q!])) as tf.Tensor2D[];
    return {
      run: () => tf.tidy(() => {
        const xa = tf.matMul(x!, A!);
        const y = tf.add(tf.matMul(x!, W!), tf.mul(tf.matMul(xa, B!), SCALE));
        tf.mul(tf.matMul(xa, dY!, true, false), SCALE); // dB (the wasm backend computes each op when called)
        return y;
      }).dispose(),
      dispose: () => [x, dY, W, A, B].forEach((t) => t!.dispose()),
    };
  },
};

const WARMUP = 2;

/** Rounds for a cheap case: enough that the slowest contender runs ≥ ROUND_MS in all (a median robust to a descheduled call). */
const ROUND_MS = 400, MAX_ROUNDS = 101;

/** Median ms per call of each contender (null: no call for this case), interleaved rounds (≥ runs). */
function measure(c: Case, contenders: Contender[], runs: number): (number | null)[] {
  return interleaved(contenders.map((x) => x.prepare(c)), WARMUP, (slowest) => Math.max(runs, Math.min(MAX_ROUNDS, Math.ceil(ROUND_MS / slowest))));
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--runs');
  const runs = at >= 0 ? Number(process.argv[at + 1]) : 5;
  if (!(Number.isInteger(runs) && runs >= 3)) throw new Error(`--runs: expected an integer ≥ 3, got ${process.argv[at + 1]}`);
  const quick = process.argv.includes('--quick');
  const cores = os.availableParallelism();

  const require = createRequire(import.meta.url);
  setWasmPaths(`${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'))}/`);
  setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  const info = await initCpu({ tier: 'wasm', threads: cores });
  if (info.tier !== 'wasm' || info.threads !== cores) throw new Error(`the WebAssembly tier did not start ${cores} threads: ${info.limits.join('; ')}`);

  const contenders = [
    lorafa('lorafa js', { tier: 'js' }),
    lorafa('lorafa wasm 1 thread', { tier: 'wasm', threads: 1 }),
    lorafa(`lorafa wasm ${cores} threads`, { tier: 'wasm', threads: cores }),
    tfjsWasm,
  ];
  const loadBefore = os.loadavg()[0]!;
  const rows: string[] = [];
  const fmt = (x: number | null, digits = 1) => (x === null ? '—' : x.toFixed(digits));
  for (const c of quick ? QUICK : FULL) {
    const ms = measure(c, contenders, runs), peer = ms.at(-1)!;
    const cells = ms.map((t, i) => {
      const rate = t === null ? '—' : `${fmt(t)} ms, ${fmt(flops(c) / (t * 1e6))} GFLOP/s`;
      return i < ms.length - 1 ? `${rate} | ${t !== null && peer !== null ? `${(peer / t).toFixed(2)}×` : '—'}` : rate;
    });
    rows.push(`| ${c.label} | ${cells.join(' | ')} |`);
    console.error(rows.at(-1));
  }
  const loadAfter = os.loadavg()[0]!;
  configureCpu({ tier: 'wasm', threads: cores });
  const cpus = os.cpus();
  const head = ['case', ...contenders.slice(0, -1).flatMap((x) => [x.name, '× tfjs']), contenders.at(-1)!.name];
  const section = [
    '## CPU tiers against tfjs-backend-wasm (bench/cpu.ts)',
    '',
    `Command: \`npm run bench:cpu${at >= 0 ? ` -- --runs ${runs}` : ''}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    `Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cores} cores, Node ${process.version}, ${os.platform()} ${os.release()};`,
    `load average (1 min) ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end (the machine is shared: other processes ran meanwhile).`,
    `Median of ≥ ${runs} interleaved rounds (a cheap case: enough rounds for ${ROUND_MS} ms of its slowest contender, at most ${MAX_ROUNDS}) after ${WARMUP} warm-up calls each; GFLOP/s = 2·m·n·k / time (the step: its four products);`,
    `× tfjs = tfjs-wasm's median time / the tier's (> 1: faster). tfjs ${tf.version_core}, backend ${tf.getBackend()} (XNNPACK, SIMD, 1 thread).`,
    `Default CPU tier here: ${cpuBackendLine()}.`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows,
  ].join('\n');
  console.log(section);
  if (!quick) writeSection('cpu', section);
}

function cpuBackendLine(): string {
  const i = cpuInfo();
  return `${i.tier}, ${i.threads} thread${i.threads === 1 ? '' : 's'}${i.sharedMemory ? ', shared memory' : ''}`;
}

await main();
process.exit(0); // the worker threads would keep the process alive
