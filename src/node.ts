/**
 * lorafa/node: what needs Node.js. Everything else — tensors, autograd, ops, nn, optim, the
 * LoRA family, memory, safetensors bytes, PEFT adapter state, `initWebGpu` (which finds Dawn, the
 * `webgpu` package, by itself on Node) — is in 'lorafa', which runs in browsers too.
 */
export { saveSafetensors, loadSafetensors } from './io/safetensors-files.ts';
export { savePeftAdapter, loadPeftAdapter, PEFT_FILES } from './io/peft-files.ts';
