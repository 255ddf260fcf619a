import { describe, expect, it } from 'vitest';
import { dataFromJson, makeData, projectionView, type LoraCase } from '../../src/verify/index.ts';

const c: LoraCase = { N: 6, d: 5, o: 4, r: 2, sigma: 2, seed: 7, init: 'gaussian', dtype: 'float64' };

describe('projectionView: Theorem 4.1 for one input (the playground\'s projection panel)', () => {
  it('shapes, σ·A·g̃_B = P_A·G, Aᵀ·R = 0, claims 1–4 hold; the uncorrected update is far from P_A·G', () => {
    const v = projectionView(makeData(c));
    const shape = (k: keyof typeof v.matrices) => [v.matrices[k].rows, v.matrices[k].cols];
    expect([shape('G'), shape('gB'), shape('gTilde'), shape('update'), shape('PAG'), shape('residual'), shape('AtR')])
      .toEqual([[5, 4], [2, 4], [2, 4], [5, 4], [5, 4], [5, 4], [2, 4]]);
    expect(v.distance.corrected).toBeLessThan(1e-12);
    expect(v.distance.uncorrected).toBeGreaterThan(0.1); // a gaussian A is far from orthonormal
    expect(v.residualInner).toBeLessThan(1e-12);
    expect(v.claims.map((k) => [k.id, k.holds])).toEqual([['1 closed form', true], ['2 projection', true], ['3 optimality', true], ['4 descent', true]]);
  });

  it('pasted X, dY, A replace the drawn ones (W, B from the seed); every malformed input is a clear error', () => {
    const text = JSON.stringify({ X: [[1, 0], [0, 1], [1, 1]], dY: [[1, 2], [3, 4], [5, 6]], A: [[1], [1]] });
    const data = dataFromJson(text, makeData, c);
    expect([data.c.N, data.c.d, data.c.o, data.c.r, data.W.rows, data.W.cols, data.B.rows, data.B.cols]).toEqual([3, 2, 2, 1, 2, 2, 1, 2]);
    const v = projectionView(data);
    // G = Xᵀ·dY = [[6, 8], [8, 10]]; P_A = ½·[[1, 1], [1, 1]] → P_A·G = [[7, 9], [7, 9]]
    expect(Array.from(v.matrices.G.data)).toEqual([6, 8, 8, 10]);
    expect(Array.from(v.matrices.PAG.data).map((x) => Math.round(x * 1e9) / 1e9)).toEqual([7, 9, 7, 9]);
    const bad: [string, RegExp][] = [
      ['{"X": [[1, 2]', /^projection: the matrices are not valid JSON \(.*\); expected \{"X"/],
      ['[1, 2]', /^projection: expected a JSON object/],
      ['{"dY": [[1]], "A": [[1]]}', /^projection: "X" is missing; expected "X" as a non-empty array/],
      ['{"X": [[1, 2], [3]], "dY": [[1], [1]], "A": [[1], [1]]}', /^projection: "X" row 1 is \[3\]; .*\(row 0 has 2\)/],
      ['{"X": [[1, "a"]], "dY": [[1]], "A": [[1], [1]]}', /^projection: "X"\[0\]\[1\] is "a"/],
      ['{"X": [[1, 2]], "dY": [[1], [2]], "A": [[1], [1]]}', /^projection: dY has 2 rows but X has 1/],
      ['{"X": [[1, 2]], "dY": [[1]], "A": [[1]]}', /^projection: A has 1 rows but X has 2 columns/],
      ['{"X": [[1, 2]], "dY": [[1]], "A": [[1, 0], [0, 1]]}', /^projection: A has r = 2 columns; expected r ≤ min\(d, o\) = 1/],
    ];
    for (const [input, message] of bad) expect(() => dataFromJson(input, makeData, c), input).toThrow(message);
    expect(() => projectionView(dataFromJson('{"X": [[1, 2]], "dY": [[1, 1]], "A": [[0], [0]]}', makeData, c))).toThrow(/^projection: the LoRA-FA op refused this A/);
  });
});
