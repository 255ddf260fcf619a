/**
 * Row iteration for the CPU's broadcasting and strided kernels. Every operand is described by its
 * strides in the output's index space (0 along broadcast axes: broadcastStrides in src/shape.ts);
 * adjacent axes that are contiguous for every operand are merged (collapseAxes), so `[N, d] + [d]`
 * runs N rows of length d and `x + 1` runs one row.
 */
import { collapseAxes } from '../../shape.ts';

/**
 * Calls row(offsets, len, innerStrides) once per innermost row of outShape, where offsets[k]
 * is operand k's start and innerStrides[k] its step along the row. The output (contiguous)
 * is operand 0's position: pass its strides first.
 */
export function forEachRow(
  outShape: readonly number[],
  operandStrides: number[][],
  row: (offsets: number[], len: number, innerStrides: number[]) => void,
): void {
  const { shape, strides } = collapseAxes(outShape, operandStrides);
  const k = strides.length;
  if (shape.length === 0) {
    row(new Array<number>(k).fill(0), 1, new Array<number>(k).fill(0));
    return;
  }
  const rank = shape.length;
  const len = shape[rank - 1]!;
  const inner = strides.map((s) => s[rank - 1]!);
  const idx = new Array<number>(rank - 1).fill(0);
  const offsets = new Array<number>(k).fill(0);
  const rows = shape.slice(0, rank - 1).reduce((a, b) => a * b, 1);
  for (let r = 0; r < rows; r++) {
    row(offsets, len, inner);
    // odometer over the outer axes
    for (let ax = rank - 2; ax >= 0; ax--) {
      idx[ax]!++;
      for (let o = 0; o < k; o++) offsets[o]! += strides[o]![ax]!;
      if (idx[ax]! < shape[ax]!) break;
      for (let o = 0; o < k; o++) offsets[o]! -= strides[o]![ax]! * shape[ax]!;
      idx[ax] = 0;
    }
  }
}
