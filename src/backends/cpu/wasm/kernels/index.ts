/** The WebAssembly tier's kernels: the groups it speeds up; every other kernel is the JavaScript one. */
import type { Kernels } from '../../../backend.ts';
import { wasmElementwise } from './elementwise.ts';
import type { Fallible } from './fallible.ts';
import { wasmLayout } from './layout.ts';
import { wasmMatmul } from './matmul.ts';
import { wasmNn } from './nn.ts';
import type { WasmCpu } from './operands.ts';
import { wasmOptim } from './optim.ts';

export type { Fallible } from './fallible.ts';
export type { WasmCpu } from './operands.ts';

export function wasmKernels(cpu: WasmCpu): Fallible<Kernels> {
  return {
    ...wasmElementwise(cpu),
    ...wasmLayout(cpu),
    matmul: (a, b, p, epilogue) => wasmMatmul(cpu, a, b, p, epilogue),
    ...wasmNn(cpu),
    ...wasmOptim(cpu),
  };
}
