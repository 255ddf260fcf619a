/**
 * lorafa's WebGPU backend in bfloat16 and float16 against itself in float32, in one process on one
 * adapter (Dawn; on a machine without a GPU, Mesa's llvmpipe through OpenGL):
 *
 *   npm run bench:webgpu-half               # writes the 'webgpu-half' section of bench/RESULTS.md
 *   npx tsx bench/webgpu-half.ts --quick    # small shapes, prints only
 *
 * Each case is timed as "one call, then read its whole result back to the host", the dtypes
 * interleaved run by run (float32, bfloat16, float16, float32, …: load from other processes hits
 * all alike), WARMUP untimed runs each first; medians and the ratio float32 / 16-bit. Cases:
 *   - matmul n³ (16-bit: the fused kernel, packed tiles widened on load, rounded in the epilogue);
 *   - one LoRA-FA step: ops.loraFA(X, W, A, B) forward, backward(dY) to B's closed-form gradient.
 * Bytes moved per element are half in 16 bits; the arithmetic is float32 in every case.
 */
import os from 'node:os';
import { writeSection } from './results.ts';
import { initWebGpu, ops, prepareLoraFactor, randn, scope, tensor, type DType, type Tensor, type WebGpu } from '../src/index.ts';

const QUICK = process.argv.includes('--quick');
const RUNS = 7;
const WARMUP = 2;
const DTYPES = ['float32', 'bfloat16', 'float16'] as const;

const dawn = ((await import('webgpu')) as unknown as { create(flags: string[]): GPU }).create(['backend=opengl']);
const gpu = (await initWebGpu({ gpu: dawn, featureLevel: 'compatibility' })) as WebGpu;

/** Deterministic values in [−1, 1). */
function floats(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (((Math.imul(i + 1, 2654435761) ^ seed * 40503) >>> 0) % 65536) / 32768 - 1);
}

const on = (data: Float32Array, shape: number[], dtype: DType): Tensor => tensor(data, { shape, dtype, device: 'webgpu' });

interface Side {
  run(): Promise<unknown>;
  dispose(): void;
}
interface Case {
  label: string;
  make(dtype: DType): Promise<Side>;
}

function matmulCase(n: number): Case {
  const A = floats(n * n, 1), B = floats(n * n, 2);
  return {
    label: `matmul ${n}³`,
    make: async (dtype) => {
      const [a, b] = [on(A, [n, n], dtype), on(B, [n, n], dtype)];
      return {
        run: async () => {
          const y = ops.matmul(a, b);
          await y.rawData();
          y.dispose();
        },
        dispose: () => [a, b].forEach((t) => t.dispose()),
      };
    },
  };
}

function loraFaCase(N: number, d: number, r: number): Case {
  // A gaussian: well conditioned (AᵀA's condition ≈ 1.7 at d = 1024, r = 16), as LoRA-FA's bfloat16 limit (12.8) needs
  const X = floats(N * d, 1), W = floats(d * d, 2), A = randn([d, r], { seed: 3 }).dataSync() as Float32Array, B = floats(r * d, 4), dY = floats(N * d, 5);
  return {
    label: `LoRA-FA step, N=${N}, d=o=${d}, r=${r}`,
    make: async (dtype) => {
      const [x, w, a, b, dy] = [on(X, [N, d], dtype), on(W, [d, d], dtype), on(A, [d, r], dtype), on(B, [r, d], dtype), on(dY, [N, d], dtype)];
      b.requiresGrad = true;
      await prepareLoraFactor(a, 'columns');
      return {
        run: async () => {
          scope(() => ops.loraFA(x, w, a, b, { scale: 2 }).backward(dy));
          const g = b.grad!;
          b.grad = null;
          await g.rawData();
          g.dispose();
        },
        dispose: () => [x, w, a, b, dy].forEach((t) => t.dispose()),
      };
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q), h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

async function measure(c: Case): Promise<Record<(typeof DTYPES)[number], number[]>> {
  const sides = Object.fromEntries(await Promise.all(DTYPES.map(async (t) => [t, await c.make(t)] as const))) as Record<(typeof DTYPES)[number], Side>;
  const times = { float32: [] as number[], bfloat16: [] as number[], float16: [] as number[] };
  for (let i = -WARMUP; i < RUNS; i++) {
    for (const t of DTYPES) {
      const t0 = performance.now();
      await sides[t].run();
      if (i >= 0) times[t].push(performance.now() - t0);
    }
  }
  for (const t of DTYPES) sides[t].dispose();
  console.error(`${c.label}: ${DTYPES.map((t) => `${t} ${median(times[t]).toFixed(1)} ms`).join(', ')}`);
  return times;
}

const cases = QUICK ? [matmulCase(128), loraFaCase(128, 64, 4)] : [matmulCase(1024), loraFaCase(1024, 1024, 16)];
const loadStart = os.loadavg();
const rows = [];
for (const c of cases) rows.push({ label: c.label, times: await measure(c) });
const loadEnd = os.loadavg();
const ms = (xs: number[]) => median(xs).toFixed(1);
const section = [
  '## WebGPU in 16 bits: bfloat16 and float16 against float32 (lorafa only)',
  '',
  `\`npm run bench:webgpu-half\`, ${new Date().toISOString().slice(0, 16)} UTC, ${gpu.description}; ${os.cpus().length} CPUs, ` +
  `load average ${loadStart[0]!.toFixed(2)} at the start and ${loadEnd[0]!.toFixed(2)} at the end. Medians of ${RUNS} runs, interleaved; ` +
  'each run is one call and the read-back of its result.',
  '',
  '| case | float32 ms | bfloat16 ms | float16 ms | float32 / bfloat16 | float32 / float16 |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(({ label, times: t }) => `| ${label} | ${ms(t.float32)} | ${ms(t.bfloat16)} | ${ms(t.float16)} | ` +
    `${(median(t.float32) / median(t.bfloat16)).toFixed(2)} | ${(median(t.float32) / median(t.float16)).toFixed(2)} |`),
  '',
  '16-bit matmuls read packed tiles and round in their epilogue (one dispatch, no float32 copies); the',
  'arithmetic is float32 throughout, so 16 bits save memory and bandwidth, not FLOPs. A ratio above 1',
  'means half the bytes per tile load outweighed the unpacking (integer shifts per element, float16',
  'also normalising by hand); the step also pays the casts around the kernels that are not fused.',
].join('\n');
console.log(section);
if (!QUICK) writeSection('webgpu-half', section);
gpu.dispose();
