// A TypeScript consumer: type-checked with tsc --noEmit against the installed package's .d.ts.
import { initWebGpu, measureSaved, nn, ops, optim, randn, type SavedReport, type Tensor, type WebGpu } from 'lorafa';
import { loadSafetensors, saveSafetensors } from 'lorafa/node';
import { loraCase, makeData, roundoff, runClaim, EPSILON, type Claim, type LoraCase } from 'lorafa/verify';

const x: Tensor = randn([8, 16]);
const base = new nn.Linear(16, 4, { seed: 1 });
const layer = new nn.LoraFaLinear(base, { rank: 2, alpha: 4 });
const report: SavedReport<Tensor> = measureSaved(() => layer.forward(x));
report.result.sum().backward();
const opt = new optim.AdamW(layer.parameters().filter((p) => p.requiresGrad), { lr: 1e-3 });
opt.step();
const y: Tensor = ops.loraFA(x, base.weight, layer.A, layer.B, { scale: 2, dropout: 0.1 });
const bytes: number = report.bytes;

async function gpu(): Promise<string> {
  const backend: WebGpu = await initWebGpu({ featureLevel: 'compatibility' });
  return `${backend.description}: ${backend.counters.dispatches} dispatches`;
}

const mine: Claim<LoraCase> = {
  id: 'my claim', title: 'the forward is finite', unit: 'rel', arbitrary: loraCase('float64'),
  check: (c) => {
    const data = makeData(c);
    return { error: data.c.sigma === 0 ? 1 : 0, tolerance: roundoff(EPSILON.float64, [c.d]) };
  },
};

export async function main(): Promise<void> {
  await saveSafetensors('/tmp/x.safetensors', { w: y });
  const { tensors } = await loadSafetensors('/tmp/x.safetensors');
  console.log(bytes, Object.keys(tensors), runClaim(mine, { numRuns: 3, seed: 1 }).holds, await gpu());
}
