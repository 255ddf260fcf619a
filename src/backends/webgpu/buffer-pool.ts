/**
 * GPU buffers recycled by size class. A GPUBuffer is only freed by destroy() — the garbage
 * collector will not do it in time — so freed storages come back here and are handed out
 * again for the next request of the same class. Classes: powers of two up to 4 KiB, then
 * eighths of the next power of two (at most 25% slack). Buffers are destroyed only when the
 * pool would hold more than `maxPooledBytes`, and all of them at dispose().
 */
import type { PoolStats } from './api.ts';
import { UsageFlags } from './gpu-context.ts';

const MIN_BYTES = 16;
const POW2_UP_TO = 4096;

/** The bytes actually allocated for a request of `bytes`. */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, MIN_BYTES);
  const p = 2 ** Math.ceil(Math.log2(b));
  if (p <= POW2_UP_TO) return p;
  const step = p / 8;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private readonly idle = new Map<number, GPUBuffer[]>();
  private readonly all = new Set<GPUBuffer>();
  private pooledBytes = 0;
  private pooledBuffers = 0;
  private allocatedBytes = 0;
  private created = 0;

  /** beforeDestroy submits pending work that may still use a buffer about to be destroyed. */
  constructor(
    private readonly device: GPUDevice,
    private readonly maxPooledBytes: number,
    private readonly beforeDestroy: () => void,
  ) {}

  /** A buffer of at least `bytes` (its size class); `reused` says it came from the pool. */
  acquire(bytes: number): { buffer: GPUBuffer; reused: boolean } {
    const size = sizeClass(bytes);
    const buffer = this.idle.get(size)?.pop();
    if (buffer) {
      this.pooledBytes -= size;
      this.pooledBuffers--;
      return { buffer, reused: true };
    }
    const fresh = this.device.createBuffer({ size, usage: UsageFlags.STORAGE | UsageFlags.COPY_SRC | UsageFlags.COPY_DST });
    this.all.add(fresh);
    this.allocatedBytes += size;
    this.created++;
    return { buffer: fresh, reused: false };
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    if (this.pooledBytes + size > this.maxPooledBytes) {
      this.beforeDestroy();
      this.all.delete(buffer);
      this.allocatedBytes -= size;
      buffer.destroy();
      return;
    }
    let list = this.idle.get(size);
    if (!list) this.idle.set(size, (list = []));
    list.push(buffer);
    this.pooledBytes += size;
    this.pooledBuffers++;
  }

  stats(): PoolStats {
    return { pooledBuffers: this.pooledBuffers, pooledBytes: this.pooledBytes, allocatedBytes: this.allocatedBytes, created: this.created };
  }

  /** Destroys every buffer, pooled or handed out (backend disposal). */
  destroyAll(): void {
    this.beforeDestroy();
    for (const b of this.all) b.destroy();
    this.all.clear();
    this.idle.clear();
    this.pooledBytes = this.pooledBuffers = this.allocatedBytes = 0;
  }
}
