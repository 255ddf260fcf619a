/** The assembler and the heap of the WebAssembly tier, on their own. */
import { describe, expect, it } from 'vitest';
import { ModuleBuilder, i32, sleb, uleb } from '../../src/backends/cpu/wasm/asm/emitter.ts';
import { detectFeatures } from '../../src/backends/cpu/wasm/asm/features.ts';
import { classBytes, sizeClass, WasmHeap } from '../../src/backends/cpu/wasm/runtime/heap.ts';
import { wasm as api } from '../../src/backends/cpu/wasm/runtime/wasm-api.ts';

const wasm = api!;

const enc = (fn: (o: number[], v: number) => void, v: number): number[] => {
  const o: number[] = [];
  fn(o, v);
  return o;
};

describe('the assembler', () => {
  it('encodes LEB128 as the specification does', () => {
    expect(enc(uleb, 0)).toEqual([0]);
    expect(enc(uleb, 127)).toEqual([127]);
    expect(enc(uleb, 128)).toEqual([128, 1]);
    expect(enc(uleb, 624485)).toEqual([229, 142, 38]);
    expect(enc(sleb, -1)).toEqual([127]);
    expect(enc(sleb, 63)).toEqual([63]);
    expect(enc(sleb, 64)).toEqual([192, 0]);
    expect(enc(sleb, -123456)).toEqual([192, 187, 120]);
  });

  it('writes a module the engine validates and runs: a loop with a labelled branch, an import, an export', () => {
    const mod = new ModuleBuilder();
    const twice = mod.importFunc('env', 'twice', [i32], [i32]);
    // sum(n) = Σ_{i<n} twice(i)
    const f = mod.func('sum', [i32], [i32]);
    const [n] = f.params as [{ index: number; type: typeof i32 }];
    const acc = f.local(i32);
    const exit = f.block();
    const top = f.loop();
    f.local_get(n); f.i32_eqz(); f.br_if(exit);
    f.local_get(n); f.i32_const(1); f.i32_sub(); f.local_set(n);
    f.local_get(acc); f.local_get(n); f.call(twice); f.i32_add(); f.local_set(acc);
    f.br(top);
    f.end();
    f.end();
    f.local_get(acc);
    f.end();
    const bytes = mod.bytes();
    expect(wasm.validate(bytes)).toBe(true);
    const { exports } = new wasm.Instance(new wasm.Module(bytes), { env: { twice: (x: number) => 2 * x } });
    expect((exports.sum as (n: number) => number)(10)).toBe(90);
    expect(mod.exports()).toEqual(['sum']);
  });

  it('refuses an unclosed body, a branch to a closed label and an import after a function', () => {
    const mod = new ModuleBuilder();
    const f = mod.func('open', [], []);
    const b = f.block();
    f.end();
    expect(() => f.br(b)).toThrow(/branch to a label that is not open/);
    expect(() => mod.bytes()).toThrow(/body not closed/);
    expect(() => mod.importFunc('env', 'x', [], [])).toThrow(/import functions before defining any/);
  });

  it('detects SIMD and shared memory on Node', () => {
    expect(detectFeatures()).toEqual({ simd128: true, sharedMemory: true });
  });
});

describe('the heap', () => {
  it('size classes: within 25 % (or 16 B) of the request, multiples of 16, each request in its smallest class', () => {
    for (let bytes = 1; bytes < 1 << 24; bytes = Math.ceil(bytes * 1.37)) {
      const c = sizeClass(bytes), size = classBytes(c);
      expect(size).toBeGreaterThanOrEqual(bytes);
      expect(size).toBeLessThanOrEqual(Math.max(16, bytes * 1.25 + 16));
      expect(size % 16).toBe(0);
      if (c > 0) expect(classBytes(c - 1)).toBeLessThan(bytes);
    }
  });

  for (const shared of [true, false]) {
    it(`aligns, reuses by class, grows, and ${shared ? 'keeps old views valid (shared memory)' : 'detaches old views (plain memory)'}`, () => {
      const memory = new wasm.Memory({ initial: 1, maximum: 1024, shared });
      const heap = new WasmHeap(memory);
      const small = heap.alloc(20), big = heap.alloc(1000);
      expect([small % 16, big % 64, small === 0]).toEqual([0, 0, false]);
      heap.free(small, 20);
      expect(heap.stats()).toMatchObject({ pooledBlocks: 2, liveBlocks: 1 }); // small, and the gap that aligned big to 64 B
      expect(heap.alloc(24)).toBe(small); // its class's free block
      const before = new Float32Array(heap.buffer, big, 250);
      before[7] = 42;
      expect(heap.contains(before)).toBe(true);
      const huge = heap.alloc(8 << 20); // grows the memory
      expect(heap.stats().memoryBytes).toBeGreaterThanOrEqual(huge + (8 << 20));
      if (shared) {
        expect([before.length, before[7], heap.contains(before)]).toEqual([250, 42, true]);
      } else {
        expect(before.length).toBe(0);
        expect(new Float32Array(heap.buffer, big, 250)[7]).toBe(42);
      }
      expect(heap.contains(new Float32Array(4))).toBe(false);
      heap.free(huge, 8 << 20);
      expect(heap.alloc(8 << 20)).toBe(huge); // the last block lowered the top: the same address again
    });
  }

  it('answers 0 (not an exception) where the memory cannot grow', () => {
    const heap = new WasmHeap(new wasm.Memory({ initial: 1, maximum: 2 }));
    expect(heap.alloc(100_000)).toBeGreaterThan(0);
    expect(heap.alloc(100_000)).toBe(0);
  });
});
