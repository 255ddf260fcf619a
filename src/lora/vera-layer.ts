/**
 * VeRA as layers: one pair of frozen random matrices for the whole model, A [d_max, r] and
 * B [r, o_max] (d_max, o_max: the largest input and output widths of the adapted layers), and
 * per layer two trained vectors, d [r] (`vera_lambda_d`, init 0.1) and b [o] (`vera_lambda_b`,
 * init 0, so ΔW = 0 at the start):
 *   y = x·W + (((dropout(x)·A_d) ⊙ d)·B_o) ⊙ b + bias,   A_d = A[:d, :], B_o = B[:, :o]   (ops.vera)
 * as PEFT slices its vera_A [r, d_max] and vera_B [o_max, r]. A and B are drawn as PEFT draws them
 * (Kaiming-uniform: A entries U(±√(6/d_max)), B entries U(±√(6/r))) from a seed; layers with the
 * same d (o) share one A_d (B_o) storage.
 */
import { noGrad } from '../autograd/grad-mode.ts';
import { add, mul } from '../autograd/ops/elementwise.ts';
import { matmul } from '../autograd/ops/matmul.ts';
import { slice } from '../autograd/ops/shape.ts';
import { view } from '../autograd/ops/util.ts';
import type { DType, Device } from '../dtype.ts';
import { describe, fail } from '../errors.ts';
import { full, tensor, zeros } from '../factories.ts';
import type { Linear } from '../nn/linear.ts';
import { checkFeatures } from '../nn/module.ts';
import { fillUniform } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { AdapterLayer } from './adapter-layer.ts';
import { checkAdapterOptions } from './common.ts';
import { randomStream } from './init.ts';
import { vera } from './vera.ts';

/** The frozen A [d_max, r] and B [r, o_max] shared by a model's VeRA layers, and their slices per width. */
export class VeraProjections {
  readonly A: Tensor;
  readonly B: Tensor;
  private readonly slices = new Map<string, Tensor>();

  /** A [maxIn, rank] and B [rank, maxOut] drawn from seed (the global generator when absent), float32 unless dtype says otherwise. */
  constructor(readonly rank: number, readonly maxIn: number, readonly maxOut: number, options: { seed?: number; dtype?: DType; device?: Device } = {}) {
    for (const [name, v] of [['rank', rank], ['maxIn', maxIn], ['maxOut', maxOut]] as const) {
      if (!Number.isInteger(v) || v < 1) fail('VeraProjections', `${name} = ${v} is invalid; expected a positive integer`);
    }
    const stream = randomStream('VeraProjections', options.seed);
    const draw = (size: number, bound: number) => {
      const v = new Float64Array(size);
      const { seed, offset } = stream.take('uniform', size);
      fillUniform(v, seed, offset);
      return v.map((u) => (2 * u - 1) * bound);
    };
    const like = { dtype: options.dtype ?? 'float32', device: options.device, parameter: true };
    this.A = tensor(draw(maxIn * rank, Math.sqrt(6 / maxIn)), { ...like, shape: [maxIn, rank] });
    this.B = tensor(draw(rank * maxOut, Math.sqrt(6 / rank)), { ...like, shape: [rank, maxOut] });
  }

  /** A[:d, :] [d, r] and B[:, :o] [r, o]: new handles on storage shared by every layer of the same width. */
  slicesFor(d: number, o: number): { A: Tensor; B: Tensor } {
    if (d > this.maxIn || o > this.maxOut) {
      fail('VeraProjections', `a layer W [${d}, ${o}] is wider than the shared A [${this.maxIn}, ${this.rank}] and B [${this.rank}, ${this.maxOut}]; expected d ≤ ${this.maxIn} and o ≤ ${this.maxOut}`);
    }
    const get = (key: string, make: () => Tensor): Tensor => {
      let t = this.slices.get(key);
      if (!t) {
        t = noGrad(make);
        t.isParameter = true;
        this.slices.set(key, t);
      }
      return view(t, t.shape);
    };
    return {
      A: d === this.maxIn ? view(this.A, this.A.shape) : get(`A${d}`, () => slice(this.A, 0, 0, d)),
      B: o === this.maxOut ? view(this.B, this.B.shape) : get(`B${o}`, () => slice(this.B, 1, 0, o)),
    };
  }

  /** Frees this object's handles (layers keep theirs). */
  dispose(): void {
    for (const t of [this.A, this.B, ...this.slices.values()]) t.dispose();
    this.slices.clear();
  }
}

export interface VeraLayerOptions {
  /** Initial value of every entry of d (PEFT's d_initial; default 0.1). */
  dInitial?: number;
  /** Drop probability of the adapter's input while training (default 0). */
  dropout?: number;
}

export class VeraLinear extends AdapterLayer {
  readonly base: Linear;
  /** The shared frozen slices A_d [d, r] and B_o [r, o] (non-persistent buffers: rebuilt from the seed). */
  readonly A: Tensor;
  readonly B: Tensor;
  /** Trained: d [r] and b [o]. */
  readonly lambdaD: Tensor;
  readonly lambdaB: Tensor;
  readonly rank: number;
  readonly dropout: number;

  constructor(base: Linear, projections: VeraProjections, options: VeraLayerOptions = {}) {
    super();
    const op = 'VeraLinear';
    if (typeof options !== 'object' || options === null) fail(op, 'expected options { dInitial?, dropout? }');
    const dInitial = options.dInitial ?? 0.1;
    if (!Number.isFinite(dInitial)) fail(op, `dInitial = ${dInitial} is invalid; expected a finite number`);
    this.dropout = checkAdapterOptions(op, options).dropout;
    this.base = this.registerModule('base', base);
    base.freeze();
    const W = base.weight;
    const [d, o] = W.shape as [number, number];
    if (projections.A.dtype !== W.dtype || projections.A.device !== W.device) {
      fail(op, `the shared ${describe('A', projections.A)} does not match ${describe('W', W)}; expected one dtype and device`);
    }
    const { A, B } = projections.slicesFor(d, o);
    this.rank = projections.rank;
    this.A = this.registerBuffer('vera_A', A, { persistent: false });
    this.B = this.registerBuffer('vera_B', B, { persistent: false });
    const like = { dtype: W.dtype, device: W.device };
    this.lambdaD = this.registerParameter('vera_lambda_d', full([this.rank], dInitial, like));
    this.lambdaB = this.registerParameter('vera_lambda_b', zeros([o], like));
    this.lambdaD.requiresGrad = this.lambdaB.requiresGrad = true;
  }

  forward(x: Tensor): Tensor {
    checkFeatures('VeraLinear', x, this.base.inFeatures);
    const { weight: W, bias } = this.base;
    const y = vera(x, W, this.A, this.B, this.lambdaD, this.lambdaB, { dropout: this.training ? this.dropout : 0 });
    if (!bias) return y;
    const out = add(y, bias);
    y.dispose();
    return out;
  }

  /** W + A·diag(d)·B·diag(b). */
  effectiveWeight(): Tensor {
    return noGrad(() => add(this.base.weight, mul(matmul(mul(this.A, this.lambdaD), this.B), this.lambdaB)));
  }

  /** A·diag(g_d)·B·diag(b) + A·diag(d)·B·diag(g_b). */
  sgdDirection(): Tensor {
    const { A, B, lambdaD: dv, lambdaB: bv } = this;
    if (!dv.grad && !bv.grad) fail('VeraLinear', 'sgdDirection(): d and b have no gradient; expected a backward first');
    return noGrad(() => {
      const terms = [dv.grad && mul(matmul(mul(A, dv.grad), B), bv), bv.grad && mul(matmul(mul(A, dv), B), bv.grad)].filter((t): t is Tensor => t !== null);
      return terms.length === 2 ? add(terms[0]!, terms[1]!) : terms[0]!;
    });
  }

  async prepare(): Promise<void> {}
}
