/**
 * How a WebAssembly kernel gets at storages. With a shared memory, the CPU backend keeps every
 * tensor in the heap (resident): an input's address is its view's byteOffset and an output block
 * becomes the new storage. Without one (a browser page that is not cross-origin isolated), or for
 * a tensor made while the JavaScript tier was selected or while the heap was full, an input is
 * staged: copied into a heap block for the call, an output copied out into a new typed array, an
 * in-place operand copied back. Every allocation can fail (the heap at its maximum): then the call
 * gives up and the caller runs the JavaScript kernel instead.
 */
import type { Storage } from '../../../backend.ts';
import { BYTES_PER_ELEMENT, typedArrayFor, type DType, type TypedArray } from '../../../../dtype.ts';
import type { WasmRuntime } from '../runtime/runtime.ts';

/** What the WebAssembly kernel groups need from the CPU backend. */
export interface WasmCpu {
  readonly rt: WasmRuntime;
  /** A storage over a heap block (resident) — it owns the block from now on. */
  wrap(dtype: DType, size: number, ptr: number): Storage;
  /** A storage over a typed array (staged outputs); dtype is required for a Uint16Array (16-bit bits). */
  adopt(data: TypedArray, dtype?: DType): Storage;
}

/** A typed array of dtype over the memory's current buffer (take it after the call's last allocation). */
export function viewOf(rt: WasmRuntime, dtype: DType, ptr: number, size: number): TypedArray {
  const buffer = rt.heap.buffer;
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, ptr, size);
    case 'float64': return new Float64Array(buffer, ptr, size);
    case 'float16': case 'bfloat16': return new Uint16Array(buffer, ptr, size);
    case 'int32': return new Int32Array(buffer, ptr, size);
  }
}

interface Block {
  ptr: number;
  dtype: DType;
  size: number;
}

/** The operands of one kernel call; finish() (or abandon()) ends it. */
export class Operands {
  private readonly temps: Block[] = [];
  private readonly copyBack: [Block, TypedArray][] = [];
  private readonly outputs: Block[] = [];
  /** False once an allocation failed: the call must be abandoned. */
  ok = true;

  constructor(private readonly cpu: WasmCpu) {}

  /** The address of s's elements: in place, or a staged copy. */
  input(s: Storage): number {
    const data = s.handle as TypedArray;
    if (this.cpu.rt.shared && this.cpu.rt.heap.contains(data)) return data.byteOffset;
    const block = this.alloc(s.dtype, s.size, this.temps);
    if (block) viewOf(this.cpu.rt, s.dtype, block.ptr, s.size).set(data);
    return block?.ptr ?? 0;
  }

  /** As input(), for an operand the kernel writes in place (a staged copy is copied back). */
  inout(s: Storage): number {
    const ptr = this.input(s);
    const staged = this.temps.at(-1);
    if (staged && staged.ptr === ptr) this.copyBack.push([staged, s.handle as TypedArray]);
    return ptr;
  }

  /** A new output of `size` elements of dtype. */
  output(dtype: DType, size: number): number {
    return this.alloc(dtype, size, this.outputs)?.ptr ?? 0;
  }

  /** Scratch for the call only. */
  scratch(bytes: number): number {
    return this.alloc('float64', Math.ceil(bytes / 8), this.temps)?.ptr ?? 0;
  }

  /** The outputs as storages, in the order output() was called; staged copies written back; temporaries freed. */
  finish(): Storage[] {
    const { rt } = this.cpu;
    for (const [block, target] of this.copyBack) target.set(viewOf(rt, block.dtype, block.ptr, block.size));
    const out = this.outputs.map((b) => {
      if (rt.shared) return this.cpu.wrap(b.dtype, b.size, b.ptr);
      const data = typedArrayFor(b.dtype, b.size);
      data.set(viewOf(rt, b.dtype, b.ptr, b.size));
      rt.heap.free(b.ptr, b.size * BYTES_PER_ELEMENT[b.dtype]);
      return this.cpu.adopt(data, b.dtype);
    });
    this.release(this.temps);
    return out;
  }

  /** Frees everything (an allocation failed): the caller falls back to JavaScript. */
  abandon(): null {
    this.release(this.temps);
    this.release(this.outputs);
    return null;
  }

  private alloc(dtype: DType, size: number, into: Block[]): Block | null {
    if (!this.ok) return null;
    const ptr = this.cpu.rt.heap.alloc(size * BYTES_PER_ELEMENT[dtype]);
    if (!ptr) {
      this.ok = false;
      return null;
    }
    const block = { ptr, dtype, size };
    into.push(block);
    return block;
  }

  private release(blocks: Block[]): void {
    for (const b of blocks) this.cpu.rt.heap.free(b.ptr, b.size * BYTES_PER_ELEMENT[b.dtype]);
    blocks.length = 0;
  }
}
