import type { AllocationStats } from './backend.ts';

/**
 * The bookkeeping every backend does for `memory()`: buffers and bytes allocated and not yet
 * freed, and the peak of live bytes since the last reset. Sizes are the storages' logical bytes
 * (elements × bytes per element), whatever the backend really reserves for them (a GPU buffer
 * pool rounds sizes up; see its own stats for that).
 */
export class AllocationTracker {
  private liveBuffers = 0;
  private liveBytes = 0;
  private peakBytes = 0;

  allocated(bytes: number): void {
    this.liveBuffers++;
    this.liveBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
  }

  freed(bytes: number): void {
    this.liveBuffers--;
    this.liveBytes -= bytes;
  }

  stats(): AllocationStats {
    return { liveBuffers: this.liveBuffers, liveBytes: this.liveBytes, peakBytes: this.peakBytes };
  }

  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }
}
