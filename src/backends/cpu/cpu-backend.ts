import { AllocationTracker } from '../allocations.ts';
import { Storage, type AllocationStats, type Backend, type Kernels } from '../backend.ts';
import { dtypeOfArray, type DType, type TypedArray } from '../../dtype.ts';
import type { Cpu } from './kernels/cpu.ts';
import { elementwiseKernels } from './kernels/elementwise.ts';
import { layoutKernels } from './kernels/layout.ts';
import { linalgKernels } from './kernels/linalg.ts';
import { matmulKernels } from './kernels/matmul.ts';
import { nnKernels } from './kernels/nn.ts';
import { optimKernels } from './kernels/optim.ts';
import { randomKernels } from './kernels/random.ts';
import { reduceKernels } from './kernels/reduce.ts';

/**
 * The reference backend: float32, float64 and int32 in typed arrays, single-threaded. Its kernels
 * come in the same groups, in same-named files, as the WebGPU backend's (kernels/*.ts).
 */
export class CpuBackend implements Backend, Cpu {
  readonly device = 'cpu' as const;
  readonly description = 'CPU (JavaScript, 1 thread)';
  readonly kernels: Kernels;
  private readonly allocations = new AllocationTracker();

  constructor() {
    this.kernels = {
      ...elementwiseKernels(this),
      ...layoutKernels(this),
      ...matmulKernels(this),
      ...reduceKernels(this),
      ...nnKernels(this),
      ...randomKernels(this),
      ...linalgKernels(this),
      ...optimKernels(),
    };
  }

  supportsDtype(_dtype: DType): boolean {
    return true;
  }

  adopt(data: TypedArray): Storage<TypedArray> {
    const s = new Storage<TypedArray>(this, dtypeOfArray(data), data.length, data);
    this.allocations.allocated(s.bytes);
    return s;
  }

  upload(data: TypedArray): Storage {
    return this.adopt(data.slice());
  }

  async read(s: Storage): Promise<TypedArray> {
    return this.readSync(s);
  }

  readSync(s: Storage): TypedArray {
    return (s.handle as TypedArray).slice();
  }

  free(s: Storage): void {
    this.allocations.freed(s.bytes);
    s.handle = null;
  }

  memory(): AllocationStats {
    return this.allocations.stats();
  }

  resetPeak(): void {
    this.allocations.resetPeak();
  }
}
