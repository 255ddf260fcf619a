/**
 * 16-bit tensors on the CPU's WebAssembly tier against float32, in one process: a matmul 1024³
 * and one LoRA-FA step (Y = X·W + σ·(X·A)·B forward, B's closed-form gradient backward; N = 4096,
 * d = o = 1024, r = 16) with every tensor in float32, bfloat16 and float16. The 16-bit columns
 * pay for widening each operand to float32 and rounding each output back (half-precision.ts)
 * around the same float32 kernels; the conversion row times that alone (2²⁰ elements there and
 * back, `ops.cast`).
 *
 *   npm run bench:half              # or: npx tsx bench/half.ts [--runs N]; writes bench/RESULTS.md
 *   npx tsx bench/half.ts --quick   # small shapes, to check the script; prints only
 *
 * Interleaved (bench/interleave.ts): after WARMUP untimed calls each, every round times one call
 * of each dtype, the order rotating from round to round, so a change of load hits every column alike.
 */
import os from 'node:os';
import { interleaved, type Call } from './interleave.ts';
import { writeSection } from './results.ts';
import { initCpu, noGrad, ops, randn, scope, type DType } from '../src/index.ts';

const DTYPES: DType[] = ['float32', 'bfloat16', 'float16'];
const WARMUP = 2;
const SCALE = 2;

interface Case {
  label: string;
  /** A call in dtype (null: none), made with its tensors; dispose frees them. */
  prepare(dtype: DType): Call | null;
}

const matmul = (n: number): Case => ({
  label: `matmul ${n}³`,
  prepare: (dtype) => {
    const a = randn([n, n], { dtype, seed: 1 }), b = randn([n, n], { dtype, seed: 2 });
    return { run: () => noGrad(() => ops.matmul(a, b).dispose()), dispose: () => (a.dispose(), b.dispose()) };
  },
});

const loraFaStep = (N: number, d: number, o: number, r: number): Case => ({
  label: `LoRA-FA step N=${N}, d=o=${d}, r=${r}`,
  prepare: (dtype) => {
    const x = randn([N, d], { dtype, seed: 1 }), dY = randn([N, o], { dtype, seed: 5 });
    const W = randn([d, o], { dtype, seed: 2, parameter: true }), A = randn([d, r], { dtype, seed: 3, parameter: true });
    const B = randn([r, o], { dtype, seed: 4, parameter: true, requiresGrad: true });
    return {
      run: () => {
        scope(() => ops.loraFA(x, W, A, B, { scale: SCALE }).backward(dY));
        B.grad!.dispose();
        B.grad = null;
      },
      dispose: () => [x, dY, W, A, B].forEach((t) => t.dispose()),
    };
  },
});

const conversion = (n: number): Case => ({
  label: `cast 2^${Math.log2(n)} float32 → dtype → float32`,
  prepare: (dtype) => {
    if (dtype === 'float32') return null;
    const x = randn([n], { seed: 1 });
    return { run: () => noGrad(() => scope(() => void ops.cast(ops.cast(x, dtype), 'float32'))), dispose: () => x.dispose() };
  },
});

async function main(): Promise<void> {
  const at = process.argv.indexOf('--runs');
  const runs = at >= 0 ? Number(process.argv[at + 1]) : 9;
  if (!(Number.isInteger(runs) && runs >= 3)) throw new Error(`--runs: expected an integer ≥ 3, got ${process.argv[at + 1]}`);
  const quick = process.argv.includes('--quick');
  const cores = os.availableParallelism();
  const info = await initCpu({ tier: 'wasm', threads: cores });
  if (info.tier !== 'wasm') throw new Error(`the WebAssembly tier did not start: ${info.limits.join('; ')}`);
  const cases = quick ? [matmul(64), loraFaStep(256, 64, 64, 4), conversion(2 ** 12)] : [matmul(1024), loraFaStep(4096, 1024, 1024, 16), conversion(2 ** 20)];
  const loadBefore = os.loadavg()[0]!;
  const rows: string[] = [];
  for (const c of cases) {
    const ms = interleaved(DTYPES.map((dt) => c.prepare(dt)), WARMUP, () => runs), base = ms[0];
    const cells = ms.map((t, i) => (t === null ? '—' : i === 0 || base === null || base === undefined ? `${t.toFixed(1)} ms` : `${t.toFixed(1)} ms (${(t / base).toFixed(2)}×)`));
    rows.push(`| ${c.label} | ${cells.join(' | ')} |`);
    console.error(rows.at(-1));
  }
  const loadAfter = os.loadavg()[0]!;
  const cpus = os.cpus();
  const section = [
    '## 16-bit tensors on the CPU against float32 (bench/half.ts)',
    '',
    `Command: \`npm run bench:half${at >= 0 ? ` -- --runs ${runs}` : ''}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    `Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cores} cores, Node ${process.version}; WebAssembly tier, ${info.threads} threads;`,
    `load average (1 min) ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end (the machine is shared: other processes ran meanwhile).`,
    `Median of ${runs} interleaved rounds after ${WARMUP} warm-up calls each; (n×) = the dtype's time / float32's (the cost of widening and rounding around the same float32 kernels).`,
    '',
    '| case | float32 | bfloat16 | float16 |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
  if (quick) console.log(section);
  else console.log(`wrote ${writeSection('half', section)}`);
  process.exit(0); // the worker threads keep the process alive
}

await main();
