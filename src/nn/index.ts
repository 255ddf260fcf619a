export { LoraLinear, LoraFaLinear, LoraFbLinear, LoraAdapterLinear, type LoraLayerOptions, type LoraInit } from '../lora/layers.ts';
export { Module, buildModule } from './module.ts';
export { Linear } from './linear.ts';
export { Embedding, LayerNorm, MLP, Sequential, type LayerOptions } from './layers.ts';
export { CausalSelfAttention } from './attention.ts';
export { Block, GPT, type GptConfig } from './transformer.ts';
export { applyAdapters, DEFAULT_TARGETS, type AdapterMethod, type AdapterOptions, type AdapterReport } from '../lora/adapters.ts';
