/**
 * The WebGPU device as the kernels see it: WGSL modules (shaders.ts), pipelines
 * compiled once and cached by (file, entry point, override constants), and command batching:
 * dispatches go into one open compute pass, their uniforms into one host-side arena, and
 * `flush()` writes the arena and submits (every `batchSize` dispatches, before uploads and
 * before read-backs). Queue order keeps every batch's uniforms and buffers consistent.
 * A dispatch's uniforms are bound at a dynamic offset of the arena, so its bind group depends
 * only on (pipeline, buffers) and is cached: a training loop, whose pooled buffers come back
 * step after step, creates almost none after its first steps.
 *
 * Device errors: each batch runs inside a validation/out-of-memory error scope, popped at its
 * submit; an error is reported once, at the next read-back or sync, naming the kernels of the
 * batch that raised it, and then cleared, so later work proceeds (errors outside a batch, such as
 * uploads, arrive through 'uncapturederror' and are reported the same way).
 */
import { fail } from '../../errors.ts';
import { shaderSource } from './shaders.ts';

/** Override constants of one pipeline (booleans and numbers, as WGSL `override` declarations). */
export type Constants = Readonly<Record<string, number | boolean>>;

/**
 * The uniform block of one dispatch, packed as WGSL lays out a struct of 4-byte scalars
 * followed by `array<vec4u, N>` fields (each array starts on a 16-byte boundary).
 */
export class Params {
  private readonly words: number[] = [];
  private readonly kinds: ('u32' | 'i32' | 'f32')[] = [];

  u32(v: number): this {
    return this.push('u32', v);
  }

  i32(v: number): this {
    return this.push('i32', v);
  }

  f32(v: number): this {
    return this.push('f32', v);
  }

  /** An `array<vec4u, slots/4>` field holding values (zero-padded to `slots`). */
  vec(values: readonly number[], slots: number): this {
    while (this.words.length % 4) this.push('u32', 0);
    for (let i = 0; i < slots; i++) this.push('u32', values[i] ?? 0);
    return this;
  }

  private push(kind: 'u32' | 'i32' | 'f32', v: number): this {
    this.words.push(v);
    this.kinds.push(kind);
    return this;
  }

  /** Bytes of the struct, rounded up to 16 (a uniform struct's size is a multiple of its alignment). */
  get byteLength(): number {
    return Math.ceil(Math.max(this.words.length, 1) / 4) * 16;
  }

  writeTo(view: DataView, offset: number): void {
    this.words.forEach((v, i) => {
      const at = offset + 4 * i;
      if (this.kinds[i] === 'f32') view.setFloat32(at, v, true);
      else if (this.kinds[i] === 'i32') view.setInt32(at, v, true);
      else view.setUint32(at, v >>> 0, true);
    });
  }
}

export interface Launch {
  /** File name in wgsl/ without the extension. */
  shader: string;
  /** Entry point; 'main' when omitted. */
  entry?: string;
  constants?: Constants;
  /** Bound at @binding(0) as a uniform buffer. */
  params: Params;
  /** Bound at @binding(1), @binding(2), ... in order; null leaves a binding number unused. */
  buffers: (GPUBuffer | null)[];
  /** Workgroup counts [x, y, z]. */
  groups: readonly [number, number, number];
  /**
   * The loop budget of one invocation: Σ over every loop instance it runs of (iterations + 1), all
   * loops together (kernels/gpu.ts); checked against the adapter's cap (llvmpipe: 65535).
   */
  loops?: number;
}

/** GPUBufferUsage and GPUMapMode bits (the globals exist only in browsers). */
export const UsageFlags = {
  MAP_READ: 0x1,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  MAP_MODE_READ: 0x1,
} as const;

/** Workgroups along one grid dimension (maxComputeWorkgroupsPerDimension of every adapter). */
export const MAX_GROUPS = 65535;
const ARENA_BYTES = 1 << 18;
/** Bind groups kept (least recently used dropped first). */
const BIND_GROUPS = 4096;
/** GPUShaderStage.COMPUTE. */
const COMPUTE = 0x4;

/** The buffer binding type of each @group(0) binding a WGSL module declares. */
function bindingTypes(code: string): Map<number, GPUBufferBindingType> {
  const types = new Map<number, GPUBufferBindingType>();
  for (const m of code.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<(uniform|storage)(?:,\s*(read_write|read))?>/g)) {
    types.set(Number(m[1]), m[2] === 'uniform' ? 'uniform' : m[3] === 'read_write' ? 'storage' : 'read-only-storage');
  }
  return types;
}

interface Pipeline {
  key: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Workgroup counts for `groups` workgroups in a line, split over x and y above 65535 (x·y ≥ groups). */
export function grid(groups: number): [number, number, number] {
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  if (y > MAX_GROUPS) fail('webgpu', `a launch of ${groups} workgroups exceeds ${MAX_GROUPS}² workgroups`);
  return [Math.ceil(groups / y), y, 1];
}

export class GpuContext {
  private readonly modules = new Map<string, { module: GPUShaderModule; bindings: Map<number, GPUBufferBindingType> }>();
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private readonly arena = new DataView(new ArrayBuffer(ARENA_BYTES));
  private arenaUsed = 0;
  private readonly arenaBuffer: GPUBuffer;
  private readonly uniformAlign: number;
  /** Open error scopes of the current batch, and the kernels it recorded (for error messages). */
  private scoped = false;
  private readonly batchKernels = new Set<string>();
  /** Error scopes popped at submit, not yet settled. */
  private readonly popping = new Set<Promise<void>>();
  /** Errors reported by the device and not yet thrown. */
  private readonly errors: string[] = [];
  /** Dispatches, submits, compiled pipelines, bind groups created and read-backs since creation (for tests and benchmarks). */
  readonly counters = { dispatches: 0, submits: 0, pipelines: 0, bindGroups: 0, reads: 0 };

  /**
   * gpu and adapter are held only to keep them alive: Dawn crashes (abort or segfault) when the
   * GPU instance is garbage-collected while its device is still in use. maxLoopIterations is
   * the adapter's cap on the loop iterations of one invocation (Infinity unless the driver has one).
   */
  constructor(
    readonly gpu: GPU,
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly batchSize = 256,
    readonly maxLoopIterations = Infinity,
  ) {
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.arenaBuffer = device.createBuffer({ size: ARENA_BYTES, usage: UsageFlags.UNIFORM | UsageFlags.COPY_DST });
    device.addEventListener('uncapturederror', (e) => {
      this.errors.push(`outside a batch (an upload or a buffer allocation): ${(e as GPUUncapturedErrorEvent).error.message}`);
    });
  }

  /**
   * Throws the first error the device reported since the last check (with how many more came),
   * and forgets them all, so one bad launch does not fail every later read. Called at every
   * read-back and sync.
   */
  async checkErrors(): Promise<void> {
    while (this.popping.size > 0) await Promise.all(this.popping);
    if (this.errors.length === 0) return;
    const [first, ...more] = this.errors.splice(0);
    const others = more.length > 0 ? ` (and ${more.length} more after it)` : '';
    fail('webgpu', `the device reported an error${others} ${first}`);
  }

  /**
   * The pipeline of (shader, entry point, override constants) whose layout holds the uniform block at
   * binding 0 (dynamic offset) and a storage binding for each of `bound` (the launch's bindings, in
   * the access mode the module declares).
   */
  pipeline(shader: string, entry: string, constants: Constants, bound: readonly number[]): Pipeline {
    const keys = Object.keys(constants).sort();
    const key = `${shader}:${entry}:${keys.map((k) => `${k}=${Number(constants[k])}`).join(',')}:${bound.join(',')}`;
    let hit = this.pipelines.get(key);
    if (!hit) {
      let mod = this.modules.get(shader);
      if (!mod) {
        const code = shaderSource(shader);
        mod = { module: this.device.createShaderModule({ label: shader, code }), bindings: bindingTypes(code) };
        this.modules.set(shader, mod);
      }
      const entries: GPUBindGroupLayoutEntry[] = [0, ...bound].map((binding) => ({
        binding, visibility: COMPUTE, buffer: binding === 0 ? { type: 'uniform', hasDynamicOffset: true } : { type: mod.bindings.get(binding) ?? 'storage' },
      }));
      const layout = this.device.createBindGroupLayout({ label: key, entries });
      const values: Record<string, number> = {};
      for (const k of keys) values[k] = Number(constants[k]);
      const pipeline = this.device.createComputePipeline({
        label: key, layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module: mod.module, entryPoint: entry, constants: values },
      });
      hit = { key, pipeline, layout };
      this.pipelines.set(key, hit);
      this.counters.pipelines++;
    }
    return hit;
  }

  /** The bind group of a pipeline's uniform block (`size` bytes) and buffers, made once and cached (least recently used dropped). */
  private bindGroup(p: Pipeline, size: number, buffers: readonly (GPUBuffer | null)[]): GPUBindGroup {
    const ids = buffers.map((b) => (b ? this.bufferId(b) : '-'));
    const key = `${p.key}|${size}|${ids.join(',')}`;
    let group = this.bindGroups.get(key);
    if (group) {
      this.bindGroups.delete(key); // most recently used last
    } else {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arenaBuffer, offset: 0, size } }];
      buffers.forEach((buffer, i) => {
        if (buffer) entries.push({ binding: i + 1, resource: { buffer } });
      });
      group = this.device.createBindGroup({ label: p.key, layout: p.layout, entries });
      this.counters.bindGroups++;
      if (this.bindGroups.size >= BIND_GROUPS) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    }
    this.bindGroups.set(key, group);
    return group;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  /** Records one dispatch into the open batch (nothing runs until the batch is submitted). */
  dispatch(l: Launch): void {
    const [x, y, z] = l.groups;
    if (x === 0 || y === 0 || z === 0) return;
    if ((l.loops ?? 0) > this.maxLoopIterations) {
      fail(l.shader, `this launch needs ${l.loops} loop iterations per invocation (each loop's iterations + 1, summed over its loops), ` +
        `but this adapter ends all loops of an invocation after ${this.maxLoopIterations} (a limit of Mesa's llvmpipe, which is for testing); ` +
        'use smaller tensors here or a real GPU');
    }
    const entry = l.entry ?? 'main';
    const size = l.params.byteLength;
    if (this.arenaUsed + size > ARENA_BYTES) this.flush();
    const name = entry === 'main' ? l.shader : `${l.shader}:${entry}`;
    this.openScope(name);
    const bound = l.buffers.flatMap((b, i) => (b ? [i + 1] : []));
    const p = this.pipeline(l.shader, entry, l.constants ?? {}, bound);
    const offset = this.arenaUsed;
    l.params.writeTo(this.arena, offset);
    this.arenaUsed = Math.ceil((offset + size) / this.uniformAlign) * this.uniformAlign;
    const pass = this.openPass();
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, this.bindGroup(p, size, l.buffers), [offset]);
    pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
    if (++this.pending >= this.batchSize) this.flush();
  }

  /** Records a buffer-to-buffer copy in queue order with the dispatches. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number): void {
    this.openScope('copy');
    this.closePass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, 0, dst, 0, bytes);
    this.pending++;
  }

  get hasPending(): boolean {
    return this.pending > 0;
  }

  /** Writes this batch's uniforms and submits its commands. */
  flush(): void {
    if (this.encoder) {
      this.closePass();
      if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arenaBuffer, 0, this.arena.buffer, 0, this.arenaUsed);
      this.device.queue.submit([this.encoder.finish()]);
      this.counters.submits++;
      this.encoder = null;
      this.pending = 0;
      this.arenaUsed = 0;
    }
    this.closeScope();
  }

  /** Copies `bytes` of buffer to the host once every recorded command has run. */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.counters.reads++;
    const staging = this.device.createBuffer({ size: bytes, usage: UsageFlags.MAP_READ | UsageFlags.COPY_DST });
    try {
      this.copy(buffer, staging, bytes);
      this.flush();
      try {
        await staging.mapAsync(UsageFlags.MAP_MODE_READ);
      } catch (e) {
        await this.checkErrors(); // the device's own error says more than the failed map
        throw e;
      }
      await this.checkErrors();
      return staging.getMappedRange().slice(0);
    } finally {
      staging.destroy();
    }
  }

  destroy(): void {
    this.flush();
    this.arenaBuffer.destroy();
    this.device.destroy();
  }

  /** Opens the batch's error scopes on its first command (before its pipelines are made); records `kernel`. */
  private openScope(kernel: string): void {
    if (!this.scoped) {
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      this.scoped = true;
    }
    this.batchKernels.add(kernel);
  }

  /** Pops the batch's error scopes; an error is kept with the kernels the batch ran. */
  private closeScope(): void {
    if (!this.scoped) return;
    const kernels = [...this.batchKernels];
    const shown = kernels.length > 8 ? `${kernels.slice(0, 8).join(', ')}, …` : kernels.join(', ');
    this.scoped = false;
    this.batchKernels.clear();
    for (const scope of [this.device.popErrorScope(), this.device.popErrorScope()]) {
      const settled = scope.then((e) => {
        if (e) this.errors.push(`in a batch running ${shown}: ${e.message}`);
      }, () => {}).finally(() => this.popping.delete(settled));
      this.popping.add(settled);
    }
  }

  private openPass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    return this.pass;
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = null;
  }
}
