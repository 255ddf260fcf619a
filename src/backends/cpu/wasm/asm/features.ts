/**
 * What this engine's WebAssembly supports, found by validating tiny emitted modules (no
 * instantiation, no user-agent sniffing):
 *
 * - simd128: fixed-width SIMD (Node ≥ 16, every current browser). Without it the CPU backend
 *   runs the JavaScript tier.
 * - sharedMemory: a shared memory import validates, SharedArrayBuffer and Atomics exist, and a
 *   shared WebAssembly.Memory can be created (browsers allow it only on cross-origin-isolated
 *   pages). Without it the WebAssembly tier runs on one thread and copies operands in and out.
 */
import { wasm } from '../runtime/wasm-api.ts';
import { ModuleBuilder, f32, v128 } from './emitter.ts';

export interface WasmFeatures {
  simd128: boolean;
  sharedMemory: boolean;
}

function validates(build: (mod: ModuleBuilder) => void): boolean {
  const mod = new ModuleBuilder();
  build(mod);
  try {
    return wasm !== null && wasm.validate(mod.bytes());
  } catch {
    return false;
  }
}

function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  try {
    return wasm !== null && new wasm.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

let cached: WasmFeatures | null = null;

export function detectFeatures(): WasmFeatures {
  cached ??= {
    simd128: validates((mod) => {
      const f = mod.func(null, [f32], [v128]);
      f.local_get(f.params[0]!);
      f.f32x4_splat();
      f.end();
    }),
    sharedMemory: validates((mod) => mod.importMemory('env', 'memory', { initial: 1, maximum: 1, shared: true })) && canShareMemory(),
  };
  return cached;
}
