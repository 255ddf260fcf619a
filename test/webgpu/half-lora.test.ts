/**
 * LoRA-FA in 16 bits on WebGPU: what it saves (N·r·2 bytes: XA in the operands' dtype), the
 * dispatches of a bfloat16 step next to float32's (fused matmuls; withHalfPrecision's casts
 * around the rest, pinned and counted below), and the in-place optimizer kernel writing 16-bit parameters and moments back.
 */
import { describe, expect, it } from 'vitest';
import { measureSaved, ops, prepareLoraFactor, randn, scope, type DType, type Tensor } from '../../src/index.ts';
import { decodeHalfArray, HALF_FORMATS } from '../../src/half-float.ts';
import { cpu, skipReason, webgpu } from './gpu.ts';

/** x [N, d], W [d, o], b [o], A [d, r] frozen, B [r, o] trained, on webgpu in dtype (A's factor cached); x needs a gradient in an inner layer. */
async function layer(dtype: DType, N: number, d: number, o: number, r: number, inner: boolean) {
  const device = 'webgpu';
  const t = {
    x: randn([N, d], { seed: 1, device, dtype, requiresGrad: inner }),
    W: randn([d, o], { seed: 2, device, dtype }),
    b: randn([o], { seed: 3, device, dtype }),
    A: randn([d, r], { seed: 4, device, dtype }),
    B: randn([r, o], { seed: 5, device, dtype, requiresGrad: true }),
    dY: randn([N, o], { seed: 6, device, dtype }),
  };
  await prepareLoraFactor(t.A, 'columns');
  return t;
}

const dispose = (ts: Record<string, Tensor>) => Object.values(ts).forEach((t) => { t.grad?.dispose(); t.dispose(); });

describe.skipIf(!webgpu)(`LoRA-FA in float16 and bfloat16 on WebGPU ${skipReason}`, () => {
  const gpu = webgpu!;

  for (const dtype of ['float16', 'bfloat16'] as const) {
    it(`measureSaved(ops.loraFA) on ${dtype} operands = N·r·2 bytes (XA alone, 2 bytes per element)`, async () => {
      for (const [N, r] of [[37, 4], [1, 1], [64, 8]] as const) {
        const t = await layer(dtype, N, 16, 12, r, false);
        const rep = measureSaved(() => ops.loraFA(t.x, t.W, t.A, t.B, { scale: 2, bias: t.b }));
        expect(rep.bytes).toBe(N * r * 2);
        expect(rep.result.dtype).toBe(dtype);
        rep.result.dispose();
        dispose(t);
      }
    });
  }

  /** Dispatches of the forward and the backward of one loraFA step (the 3rd: pipelines compiled), and the live buffers it leaves. */
  async function stepDispatches(dtype: DType) {
    const t = await layer(dtype, 32, 64, 48, 4, true);
    let counts = { forward: 0, backward: 0 };
    const live = gpu.memory().liveBuffers;
    for (let i = 0; i < 3; i++) {
      const c0 = gpu.counters.dispatches;
      scope(() => {
        const y = ops.loraFA(t.x, t.W, t.A, t.B, { scale: 2, bias: t.b });
        const c1 = gpu.counters.dispatches;
        y.backward(t.dY);
        counts = { forward: c1 - c0, backward: gpu.counters.dispatches - c1 };
      });
      for (const p of [t.x, t.B]) {
        expect(p.grad!.dtype).toBe(dtype);
        p.grad!.dispose();
        p.grad = null;
      }
      expect(gpu.memory().liveBuffers).toBe(live);
    }
    dispose(t);
    return counts;
  }

  it('a bfloat16 step: matmuls fused and copies bit for bit (no casts), cholSolve widened: forward 3 → 3, backward 6 → 8', async () => {
    // float32 (as test/webgpu/dispatch-count.test.ts, + 1 for the copy of the caller's dY):
    //   forward 3 (X·A; X·W + b; σ·(XA)·B + XW), backward 6 (the dY copy; (XA)ᵀ·dY/σ; cholSolve; dY·Bᵀ; dY·Wᵀ; σ·(dY·Bᵀ)·Aᵀ + dY·Wᵀ)
    expect(await stepDispatches('float32')).toEqual({ forward: 3, backward: 6 });
    // bfloat16: every matmul here is fused (halfFused: widened on load, rounded in the epilogue) and
    // the dY copy moves 16-bit patterns (strided-half.wgsl); cholSolve goes through withHalfPrecision:
    // a cast of its 16-bit operand to float32 (its cached factor is float32) and one back → 6 + 2 = 8.
    // (Without the fused matmul every matmul would add a cast per 16-bit operand and one for its
    // output: 14 forward, 21 backward.)
    expect(await stepDispatches('bfloat16')).toEqual({ forward: 3, backward: 8 });
  });

  it('adamwStep on bfloat16 parameter, gradient and moments writes all three back in place, as the CPU (to one rounding)', async () => {
    const n = 37, hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 };
    const f = HALF_FORMATS.bfloat16;
    const bitsOf = (seed: number, scale: number) => randn([n], { seed, dtype: 'bfloat16', device: 'cpu' }).mul(scale).rawDataSync() as Uint16Array;
    const init = [bitsOf(1, 1), bitsOf(2, 1), bitsOf(3, 0.1), bitsOf(4, 0.01).map((v) => v & 0x7fff)]; // v ≥ 0
    const results = await Promise.all([cpu(), gpu].map(async (backend) => {
      const [p, g, m, v] = init.map((a) => backend.upload(a, 'bfloat16')) as [ReturnType<typeof backend.upload>, ...ReturnType<typeof backend.upload>[]];
      const live = backend.memory().liveBuffers;
      backend.kernels.adamwStep(p, g!, m!, v!, hyper);
      expect(backend.memory().liveBuffers).toBe(live); // the float32 scratch copies are gone
      const out = await Promise.all([p, m!, v!].map(async (s) => decodeHalfArray('bfloat16', (await backend.read(s)) as Uint16Array)));
      for (const s of [p, g!, m!, v!]) s.release();
      return out;
    }));
    const [[cp, cm, cv], [gp, gm, gv]] = results as [Float32Array[], Float32Array[]];
    expect(Array.from(gp!).some((x, i) => x !== decodeHalfArray('bfloat16', init[0]!)[i])).toBe(true); // it moved
    for (const [g, c] of [[gp, cp], [gm, cm], [gv, cv]] as const) {
      for (let i = 0; i < n; i++) expect(Math.abs(g![i]! - c![i]!)).toBeLessThanOrEqual(f.epsilon * Math.abs(c![i]!));
    }
  });
});
