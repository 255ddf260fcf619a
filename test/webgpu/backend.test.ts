/**
 * The WebGPU backend as users meet it: creating and moving tensors, device and dtype errors,
 * bit-identical random streams, the buffer pool and its accounting, pipeline caching, no
 * read-backs inside forward/backward, LoRA-FA's saved bytes, device errors, and disposal
 * (leaks: leaks.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  defaultDevice, getBackend, initWebGpu, measureSaved, ops, prepareLoraFactor, rand, randn, scope, tensor, useBackend, zeros,
} from '../../src/index.ts';
import { unregisterBackend } from '../../src/backends/registry.ts';
import { grid, Params } from '../../src/backends/webgpu/gpu-context.ts';
import { expectClose } from '../helpers/allclose.ts';
import { skipReason, webgpu } from './gpu.ts';

describe.skipIf(!webgpu)(`WebGPU backend ${skipReason}`, () => {
  const gpu = webgpu!;

  it('is registered once, reports its adapter, and becomes the default device with useBackend', async () => {
    expect(await initWebGpu()).toBe(gpu);
    expect(getBackend('webgpu')).toBe(gpu);
    expect(gpu.description).toContain(gpu.adapter.device);
    expect(gpu.description).toMatch(/^WebGPU \(Dawn \w+, featureLevel (core|compatibility)\)/);
    useBackend('webgpu');
    try {
      const z = zeros([2, 3]);
      expect(z.device).toBe('webgpu');
      expect(await z.toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    } finally {
      useBackend('cpu');
    }
    expect(defaultDevice()).toBe('cpu');
  });

  it('moves float32 and int32 tensors to the device and back unchanged', async () => {
    const f = tensor([[1.5, -2], [3.25, 1e-30]], { requiresGrad: true });
    const onGpu = await f.to('webgpu');
    expect(onGpu.device).toBe('webgpu');
    expect(onGpu.requiresGrad).toBe(true);
    expect((await onGpu.to('cpu')).toArraySync()).toEqual(f.toArraySync());
    const i = tensor(Int32Array.from([-7, 0, 2 ** 31 - 1]), { device: 'webgpu' });
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([-7, 0, 2 ** 31 - 1]);
    expect(await tensor([], { device: 'webgpu' }).toArray()).toEqual([]);
  });

  it('refuses float64, synchronous reads and mixed devices with messages that say why', async () => {
    expect(gpu.supportsDtype('float64')).toBe(false);
    expect(() => tensor([1, 2], { dtype: 'float64', device: 'webgpu' })).toThrow(/tensor: dtype float64 is not supported on webgpu/);
    expect(() => randn([2], { dtype: 'float64', device: 'webgpu' })).toThrow(/randn: dtype float64/);
    await expect(tensor([1], { dtype: 'float64' }).to('webgpu')).rejects.toThrow(/to: .*float64.*cast to float32 first/);
    const g = tensor([1, 2], { device: 'webgpu' });
    expect(() => ops.cast(g, 'float64')).toThrow(/cast: .*webgpu does not support/);
    expect(() => g.dataSync()).toThrow(/dataSync: .*webgpu.*await t.data\(\)/);
    const c = tensor([1, 2]);
    expect(() => ops.add(g, c)).toThrow(/add: inputs are on different devices: \[2\] \(float32, webgpu\) and \[2\] \(float32, cpu\)/);
    expect(() => ops.matmul(tensor([[1]]), tensor([[1]], { device: 'webgpu' }))).toThrow(/matmul: .*cpu.*webgpu/);
  });

  it('rand and dropout give the CPU streams bit for bit; randn agrees to float32 rounding', async () => {
    expect(await rand([1000], { device: 'webgpu', seed: 9 }).data()).toEqual(rand([1000], { seed: 9 }).dataSync());
    expectClose(await randn([999], { device: 'webgpu', seed: 4 }).data(), randn([999], { seed: 4 }).dataSync(), { atol: 2e-6, rtol: 1e-5 });
    const x = tensor(Float32Array.from({ length: 777 }, (_, i) => 1 + i), { shape: [7, 111] });
    const dropped = ops.dropout(x, 0.3, { seed: 123 }).dataSync();
    const onGpu = await ops.dropout(await x.to('webgpu'), 0.3, { seed: 123 }).data();
    expect(Array.from(onGpu, (v) => v === 0)).toEqual(Array.from(dropped, (v) => v === 0));
    expectClose(onGpu, dropped, { atol: 0, rtol: 1e-6 });
  });

  it('recycles buffers by size class and counts live buffers and bytes', () => {
    const before = gpu.memory(), created = gpu.poolStats().created;
    for (let i = 0; i < 50; i++) zeros([100 + (i % 3)], { device: 'webgpu' }).dispose();
    expect(gpu.poolStats().created - created).toBeLessThanOrEqual(1);
    const t = zeros([1000], { device: 'webgpu' });
    expect(gpu.memory().liveBuffers).toBe(before.liveBuffers + 1);
    expect(gpu.memory().liveBytes).toBe(before.liveBytes + 4000);
    expect(gpu.memory().peakBytes).toBeGreaterThanOrEqual(before.liveBytes + 4000);
    t.dispose();
    expect(gpu.memory()).toMatchObject({ liveBuffers: before.liveBuffers, liveBytes: before.liveBytes });
  });

  it('never reads back inside forward or backward (crossEntropy, embedding and LoRA-FA included)', async () => {
    const table = randn([10, 6], { device: 'webgpu', seed: 1, requiresGrad: true });
    const W = randn([6, 5], { device: 'webgpu', seed: 2 }), A = randn([6, 2], { device: 'webgpu', seed: 3 });
    const B = randn([2, 5], { device: 'webgpu', seed: 4, requiresGrad: true });
    await prepareLoraFactor(A, 'columns');
    const reads = gpu.ctx.counters.reads;
    scope(() => {
      const h = ops.layerNorm(ops.embedding(table, [1, 4, 4, 9]));
      const logits = ops.loraFA(ops.dropout(h, 0.1, { seed: 3 }), W, A, B, { scale: 2 });
      ops.crossEntropy(logits, [0, 4, -100, 2]).backward();
    });
    expect(gpu.ctx.counters.reads).toBe(reads);
    expect((await table.grad!.data()).length).toBe(60);
    expect(gpu.ctx.counters.reads).toBe(reads + 1);
  });

  it('LoRA-FA saves exactly N·r·4 bytes on WebGPU', async () => {
    const [N, d, o, r] = [12, 16, 8, 3];
    const x = randn([N, d], { device: 'webgpu', seed: 1 }), W = randn([d, o], { device: 'webgpu', seed: 2, parameter: true });
    const A = randn([d, r], { device: 'webgpu', seed: 3, parameter: true });
    const B = randn([r, o], { device: 'webgpu', seed: 4, parameter: true, requiresGrad: true });
    await prepareLoraFactor(A, 'columns');
    const report = measureSaved(() => ops.loraFA(x, W, A, B, { scale: 0.5 }));
    expect(report.bytes).toBe(N * r * 4);
    report.result.dispose();
  });

  it('refuses what it cannot run, with clear errors and nothing leaked', () => {
    const live = gpu.memory().liveBuffers;
    expect(() => gpu.kernels.full('float64', 2, 0)).toThrow(/full: dtype float64 is not supported on webgpu/);
    expect(() => gpu.upload(new Float64Array(2))).toThrow(/upload: float64 data cannot live on webgpu/);
    const limit = gpu.ctx.device.limits.maxStorageBufferBindingSize;
    expect(() => gpu.kernels.full('float32', limit / 4 + 1, 0)).toThrow(/full: .* exceeds this adapter's maxStorageBufferBindingSize/);
    expect(() => grid(65535 ** 2 + 1)).toThrow(/exceeds 65535² workgroups/);
    const nine = zeros(new Array(9).fill(2), { device: 'webgpu' });
    expect(() => ops.permute(nine, [8, 7, 6, 5, 4, 3, 2, 1, 0]))
      .toThrow(/gatherStrided: shape \[2, 2, 2, 2, 2, 2, 2, 2, 2\] has 9 axes after merging contiguous ones; the WebGPU kernels walk at most 8/);
    nine.dispose();
    // the thin-N f32 kernel covers 128 rows per workgroup: 65535·128 + 1 rows need one workgroup too many
    const tall = zeros([65535 * 128 + 1, 1], { device: 'webgpu' }), one = zeros([1, 1], { device: 'webgpu' });
    expect(() => ops.matmul(tall, one)).toThrow(/^matmul: an output of \[8388481, 1\] needs more than 65535 tiles of matmul-f32-thin-n along one side$/);
    tall.dispose();
    one.dispose();
    expect(gpu.memory().liveBuffers).toBe(live);
  });

  it('compiles each pipeline once: sweeping sizes 1..200 a second time compiles none', () => {
    const sweep = () => {
      for (let n = 1; n <= 200; n++) {
        scope(() => {
          const x = randn([2, n], { device: 'webgpu', seed: n });
          ops.softmax(x);
          ops.logSoftmax(x);
          ops.layerNorm(x);
          ops.crossEntropy(x, [0, n - 1]);
          ops.max(ops.sum(x, 0), 0);
          ops.add(ops.matmul(ops.transpose(x), x), ops.mean(x, 0)); // [n, n] + [n]; matmul tiles follow n
          ops.cast(x, 'int32');
        });
      }
    };
    const start = gpu.ctx.counters.pipelines;
    sweep();
    const first = gpu.ctx.counters.pipelines - start;
    sweep();
    expect(gpu.ctx.counters.pipelines - start - first).toBe(0);
    expect(first).toBeLessThan(60); // keyed by shader and constants (workgroup sizes), not by tensor size
  });

  it('caches bind groups per (pipeline, buffers): the same launch on the same buffers creates none, new buffers do', async () => {
    const x = randn([64, 64], { device: 'webgpu', seed: 1 }), w = randn([64, 64], { device: 'webgpu', seed: 2 });
    const step = async () => {
      const y = scope(() => ops.tanh(ops.add(ops.matmul(x, w), 0.5)));
      await y.data();
      y.dispose();
    };
    for (let i = 0; i < 3; i++) await step(); // the pool now hands the same buffers back, step after step
    const made = gpu.counters.bindGroups;
    for (let i = 0; i < 5; i++) await step();
    expect(gpu.counters.bindGroups).toBe(made);
    const y = randn([64, 64], { device: 'webgpu', seed: 3 }); // another input buffer: new bind groups for the ops that read it
    scope(() => void ops.matmul(y, w));
    expect(gpu.counters.bindGroups).toBeGreaterThan(made);
    for (const t of [x, w, y]) t.dispose();
    await gpu.sync();
  });

  it('reports a device error once, naming its kernel, and keeps working after it', async () => {
    const t = tensor([1, 2], { device: 'webgpu' });
    const alias = t.storage.handle as GPUBuffer;
    const neg = { shader: 'unary', entry: 'forward', constants: { OP: 0 }, params: new Params().u32(2).f32(0), groups: [1, 1, 1] as const };
    gpu.run({ ...neg, buffers: [alias, alias] }); // one buffer bound read-only and read_write (what t.assign(t) once did)
    await expect(t.data()).rejects.toThrow(/^webgpu: the device reported an error in a batch running unary:forward(, copy)?: .*writable/);
    expect(Array.from(await t.data())).toEqual([1, 2]);
    expect(await scope(() => ops.neg(t)).toArray()).toEqual([-1, -2]);
    gpu.run({ shader: 'full', params: new Params().u32(2).u32(0), buffers: [], groups: [1, 1, 1] }); // binding 1 missing from the layout
    gpu.flush();
    gpu.run({ ...neg, buffers: [alias, alias] });
    await expect(gpu.sync()).rejects.toThrow(/^webgpu: the device reported an error \(and 1 more after it\) in a batch running full: Binding doesn't exist/);
    gpu.ctx.device.createBuffer({ size: 4, usage: 0x1 | 0x80 }); // MAP_READ with STORAGE: invalid, and outside any batch
    await expect(t.data()).rejects.toThrow(/^webgpu: the device reported an error outside a batch \(an upload or a buffer allocation\): /);
    await gpu.sync();
    expect(Array.from(await t.data())).toEqual([1, 2]);
    t.dispose();
  });

  it('dispose() destroys the device and unregisters it; initWebGpu() makes a new one (run last)', async () => {
    const t = tensor([1, 2], { device: 'webgpu' });
    gpu.dispose();
    expect(() => ops.neg(t)).toThrow(/webgpu backend was disposed; call `await initWebGpu\(\)` again/);
    const notInitialised = "getBackend: the 'webgpu' backend is not initialised; call `await initWebGpu()` first";
    expect(() => getBackend('webgpu')).toThrow(notInitialised);
    expect(() => useBackend('webgpu')).toThrow(notInitialised);
    expect(() => tensor([1], { device: 'webgpu' })).toThrow(notInitialised);
    expect(defaultDevice()).toBe('cpu');

    const hint = 'apt-get install -y --no-install-recommends libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libgl1';
    const absent = process.platform === 'darwin' ? 'd3d12' : 'metal'; // a Dawn backend this OS cannot have
    await expect(initWebGpu({ backend: absent, featureLevel: 'core' }))
      .rejects.toThrow(`initWebGpu: no WebGPU adapter found; tried Dawn ${absent} (featureLevel core): no adapter. On Linux without a GPU, install Mesa (${hint})`);
    await expect(initWebGpu({ gpu: { requestAdapter: async () => null } }))
      .rejects.toThrow('initWebGpu: no WebGPU adapter found; tried navigator.gpu (featureLevel core): no adapter; navigator.gpu (featureLevel compatibility): no adapter. check that WebGPU is enabled');
    const fresh = await initWebGpu();
    expect(fresh).not.toBe(gpu);
    expect(getBackend('webgpu')).toBe(fresh);
    unregisterBackend(gpu); // the disposed backend is no longer the registered one: nothing happens
    expect(getBackend('webgpu')).toBe(fresh);
    expect(await tensor([3], { device: 'webgpu' }).toArray()).toEqual([3]);
    fresh.dispose();
    expect(() => getBackend('webgpu')).toThrow(notInitialised);
  });
});
