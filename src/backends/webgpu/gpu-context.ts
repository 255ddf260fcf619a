/**
 * The WebGPU device as the kernels see it: WGSL modules read from wgsl/ at run time, pipelines
 * compiled once and cached by (file, entry point, override constants), and command batching:
 * dispatches go into one open compute pass, their uniforms into one host-side arena, and
 * `flush()` writes the arena and submits (every `batchSize` dispatches, before uploads and
 * before read-backs). Queue order keeps every batch's uniforms and buffers consistent.
 */
import { readFileSync } from 'node:fs';
import { fail } from '../../errors.ts';

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
   * The most iterations any one loop of the shader runs in one invocation, summed over
   * re-entries (checked against the adapter's cap: llvmpipe stops every loop at 65535).
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

const MAX_GROUPS = 65535;
const ARENA_BYTES = 1 << 18;

/** Workgroup counts for `groups` workgroups in a line, split over x and y above 65535 (x·y ≥ groups). */
export function grid(groups: number): [number, number, number] {
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  if (y > MAX_GROUPS) fail('webgpu', `a launch of ${groups} workgroups exceeds ${MAX_GROUPS}² workgroups`);
  return [Math.ceil(groups / y), y, 1];
}

export class GpuContext {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private readonly arena = new DataView(new ArrayBuffer(ARENA_BYTES));
  private arenaUsed = 0;
  private readonly arenaBuffer: GPUBuffer;
  private readonly uniformAlign: number;
  private firstError: string | null = null;
  /** Dispatches, submits, compiled pipelines and read-backs since creation (for tests and benchmarks). */
  readonly counters = { dispatches: 0, submits: 0, pipelines: 0, reads: 0 };

  /**
   * gpu and adapter are held only to keep them alive: Dawn crashes (abort or segfault) when the
   * GPU instance is garbage-collected while its device is still in use. maxLoopIterations is
   * the adapter's cap on one shader loop per invocation (Infinity unless the driver has one).
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
      this.firstError ??= (e as GPUUncapturedErrorEvent).error.message;
    });
  }

  /** Throws the first validation error the device reported, if any (checked at every read-back). */
  checkErrors(): void {
    if (this.firstError) fail('webgpu', `the device reported an error: ${this.firstError}`);
  }

  /** The WGSL source of wgsl/<name>.wgsl, relative to this package. */
  static source(name: string): string {
    return readFileSync(new URL(`../../../wgsl/${name}.wgsl`, import.meta.url), 'utf8');
  }

  pipeline(shader: string, entry: string, constants: Constants): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const keys = Object.keys(constants).sort();
    const key = `${shader}:${entry}:${keys.map((k) => `${k}=${Number(constants[k])}`).join(',')}`;
    let hit = this.pipelines.get(key);
    if (!hit) {
      let module = this.modules.get(shader);
      if (!module) {
        module = this.device.createShaderModule({ label: shader, code: GpuContext.source(shader) });
        this.modules.set(shader, module);
      }
      const values: Record<string, number> = {};
      for (const k of keys) values[k] = Number(constants[k]);
      const pipeline = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: entry, constants: values } });
      hit = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.pipelines.set(key, hit);
      this.counters.pipelines++;
    }
    return hit;
  }

  /** Records one dispatch into the open batch (nothing runs until the batch is submitted). */
  dispatch(l: Launch): void {
    const [x, y, z] = l.groups;
    if (x === 0 || y === 0 || z === 0) return;
    if ((l.loops ?? 0) > this.maxLoopIterations) {
      fail(l.shader, `this launch needs ${l.loops} iterations of one shader loop, but this adapter stops every loop after ` +
        `${this.maxLoopIterations} (a limit of Mesa's llvmpipe, which is for testing); use smaller tensors here or a real GPU`);
    }
    const { pipeline, layout } = this.pipeline(l.shader, l.entry ?? 'main', l.constants ?? {});
    const size = l.params.byteLength;
    if (this.arenaUsed + size > ARENA_BYTES) this.flush();
    const offset = this.arenaUsed;
    l.params.writeTo(this.arena, offset);
    this.arenaUsed = Math.ceil((offset + size) / this.uniformAlign) * this.uniformAlign;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arenaBuffer, offset, size } }];
    l.buffers.forEach((buffer, i) => {
      if (buffer) entries.push({ binding: i + 1, resource: { buffer } });
    });
    const bindGroup = this.device.createBindGroup({ layout, entries });
    const pass = this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
    if (++this.pending >= this.batchSize) this.flush();
  }

  /** Records a buffer-to-buffer copy in queue order with the dispatches. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number): void {
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
    if (!this.encoder) return;
    this.closePass();
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arenaBuffer, 0, this.arena.buffer, 0, this.arenaUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.counters.submits++;
    this.encoder = null;
    this.pending = 0;
    this.arenaUsed = 0;
  }

  /** Copies `bytes` of buffer to the host once every recorded command has run. */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.counters.reads++;
    const staging = this.device.createBuffer({ size: bytes, usage: UsageFlags.MAP_READ | UsageFlags.COPY_DST });
    try {
      this.copy(buffer, staging, bytes);
      this.flush();
      await staging.mapAsync(UsageFlags.MAP_MODE_READ);
      this.checkErrors();
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
