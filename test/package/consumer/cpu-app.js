// The CPU-only browser consumer (for the bundle size without the WebGPU backend).
import { ops, randn } from 'lorafa';
import { sigma, problem } from './problem.mjs';

const p = problem(randn, 'float32');
const y = ops.loraFA(p.x, p.W, p.A, p.B, { scale: sigma });
y.backward(p.dY);
window.__lorafa = { y: [...y.dataSync()] };
