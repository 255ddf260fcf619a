/**
 * A size-class allocator over one WebAssembly.Memory: CPU tensors live in wasm memory, where the
 * kernels read them in place, and a freed block is handed to the next request of its class
 * without being returned to the system or touched again (the pool). Addresses are byte offsets
 * into memory.buffer; 0 is never returned.
 *
 * Size classes (a freed block is reused by any request of its class; waste ≤ 25 %):
 *   ≤ 256 B: multiples of 16 (16, 32, …, 256)
 *   > 256 B: four per power of two, 2^e + q·2^(e−2), q = 1..4 (320, 384, 448, 512, 640, …)
 * Every block is 16-byte aligned and a multiple of 16 bytes long, so a kernel may load and store
 * whole v128 vectors up to the 16-byte boundary past a tensor's last element; blocks of ≥ 64 B are
 * 64-byte (cache line) aligned. A request pops its class's free list, else bumps `top`, growing the
 * memory by at least half its size. Freeing pushes the block on its list, or lowers `top` when the
 * block is the last one. No coalescing: memory never shrinks (wasm cannot), and a tensor
 * workload's sizes repeat step after step.
 *
 * Views: with a shared memory (SharedArrayBuffer), growing does not detach existing views; every
 * buffer object the memory has had is remembered, so `contains(view)` recognises views taken
 * before a growth. With a non-shared memory, grow() detaches memory.buffer and every view on it:
 * take views after the last allocation of a call.
 */

import type { WasmMemory } from './wasm-api.ts';

const PAGE = 65536;
const SMALL_LIMIT = 256;

/** Class index of a request of `bytes` (> 0). */
export function sizeClass(bytes: number): number {
  if (bytes <= SMALL_LIMIT) return Math.max(1, Math.ceil(bytes / 16)) - 1;
  const e = 31 - Math.clz32(bytes - 1); // 2^e < bytes ≤ 2^(e+1)
  const q = Math.ceil((bytes - 2 ** e) / 2 ** (e - 2)); // 1..4
  return 16 + (e - 8) * 4 + (q - 1);
}

/** Block size of class `c`. */
export function classBytes(c: number): number {
  if (c < 16) return (c + 1) * 16;
  const e = 8 + ((c - 16) >> 2), q = ((c - 16) & 3) + 1;
  return 2 ** e + q * 2 ** (e - 2);
}

export interface HeapStats {
  /** Blocks handed out and not freed, and their bytes (whole size classes). */
  liveBlocks: number;
  liveBytes: number;
  /** Freed blocks waiting for reuse, and their bytes. */
  pooledBlocks: number;
  pooledBytes: number;
  /** The wasm memory's size. */
  memoryBytes: number;
}

export class WasmHeap {
  /** First free byte past every block handed out (the bump pointer). */
  private top: number;
  private readonly freeLists: number[][] = [];
  private liveBlocks = 0;
  private liveBytes = 0;
  private pooledBlocks = 0;
  private pooledBytes = 0;
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  /** memory.buffer as of the last growth (reading memory.buffer of a shared memory is slow). */
  private current: ArrayBuffer | SharedArrayBuffer;

  /** Manages memory from `base` (bytes below it are left to the caller) upwards. */
  constructor(readonly memory: WasmMemory, base = 64) {
    this.top = Math.max(64, Math.ceil(base / 64) * 64);
    this.current = memory.buffer;
    this.buffers.add(this.current);
  }

  /** The memory's buffer, for views (only this heap grows the memory). */
  get buffer(): ArrayBuffer | SharedArrayBuffer {
    return this.current;
  }

  /** A block of at least `bytes` bytes, or 0 where the memory cannot grow that far. Its contents are unspecified. */
  alloc(bytes: number): number {
    const c = sizeClass(Math.max(1, bytes));
    const size = classBytes(c);
    let ptr = this.freeLists[c]?.pop();
    if (ptr !== undefined) {
      this.pooledBlocks--;
      this.pooledBytes -= size;
    } else {
      let start = this.top;
      if (size >= 64 && start % 64 !== 0) start += 64 - (start % 64);
      if (!this.ensure(start + size)) return 0;
      // the gap up to the next cache line (16, 32 or 48 B) becomes a small free block
      if (start > this.top) this.pool(this.top, (start - this.top) / 16 - 1);
      ptr = start;
      this.top = start + size;
    }
    this.liveBlocks++;
    this.liveBytes += size;
    return ptr;
  }

  /** Returns the block at ptr, allocated for `bytes` (its owner knows its size: no table of blocks is kept). */
  free(ptr: number, bytes: number): void {
    const c = sizeClass(Math.max(1, bytes)), size = classBytes(c);
    this.liveBlocks--;
    this.liveBytes -= size;
    if (ptr + size === this.top) this.top = ptr;
    else this.pool(ptr, c);
  }

  /** Whether a typed array is a view on this memory (then its byteOffset is its address). */
  contains(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer);
  }

  stats(): HeapStats {
    return {
      liveBlocks: this.liveBlocks, liveBytes: this.liveBytes,
      pooledBlocks: this.pooledBlocks, pooledBytes: this.pooledBytes,
      memoryBytes: this.current.byteLength,
    };
  }

  private pool(ptr: number, c: number): void {
    (this.freeLists[c] ??= []).push(ptr);
    this.pooledBlocks++;
    this.pooledBytes += classBytes(c);
  }

  /** Grows the memory to cover [0, end), by at least half its current size (fewer grow calls); false where it cannot. */
  private ensure(end: number): boolean {
    const have = this.current.byteLength;
    if (end <= have) return true;
    const needPages = Math.ceil((end - have) / PAGE);
    for (const pages of [Math.max(needPages, Math.ceil(have / PAGE / 2)), needPages]) {
      try {
        this.memory.grow(pages);
        this.current = this.memory.buffer;
        this.buffers.add(this.current);
        return true;
      } catch {
        // near the maximum: try again with only what this block needs, then give up
      }
    }
    return false;
  }
}
