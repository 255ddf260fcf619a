import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { halfVariantName, matmulWgsl, variant, VARIANTS } from '../../src/backends/webgpu/kernels/matmul-wgsl.ts';
import { shaderSource } from '../../src/backends/webgpu/shaders.ts';
import { WGSL } from '../../src/backends/webgpu/wgsl.generated.ts';

const dir = new URL('../../wgsl/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.wgsl')).sort();

describe('the embedded WGSL', () => {
  it('is exactly wgsl/*.wgsl (scripts/embed-wgsl.mjs regenerates it; run `npm test` or `npm run build`)', () => {
    expect(Object.keys(WGSL).sort()).toEqual(files.map((f) => f.slice(0, -'.wgsl'.length)).sort());
    for (const f of files) expect(WGSL[f.slice(0, -'.wgsl'.length)], f).toBe(readFileSync(new URL(f, dir), 'utf8'));
  });

  it('gives each kernel the prelude first (a file, or a generated matmul variant), and refuses a name that is not a kernel', () => {
    expect(shaderSource('softmax')).toBe(`${WGSL.common}\n${WGSL.softmax}`);
    for (const v of VARIANTS) expect(shaderSource(v.name)).toBe(`${WGSL.common}\n${matmulWgsl(v)}`);
    for (const v of VARIANTS.filter((x) => x.vec)) {
      for (const half of ['float16', 'bfloat16'] as const) expect(shaderSource(halfVariantName(v, half))).toBe(`${WGSL.common}\n${matmulWgsl(v, half)}`);
    }
    expect(() => shaderSource('matmul-f32-32x32-bfloat16')).toThrow(/no kernel named 'matmul-f32-32x32-bfloat16'/); // f32 access has no 16-bit twin
    expect(() => matmulWgsl(variant('matmul-f32-32x32'), 'float16')).toThrow(/^matmul: variant matmul-f32-32x32 reads f32 elements; 16-bit operands need a vec4 variant$/);
    expect(() => shaderSource('common')).toThrow(/^webgpu: no kernel named 'common'; expected one of adamw, binary, .*, matmul-128x128, .*matmul-f32-thin-m, .*matmul-thin-m-cols-bfloat16$/);
    expect(() => shaderSource('nope')).toThrow(/no kernel named 'nope'/);
  });

  it('generates each matmul variant (16-bit ones too) within WebGPU\'s default limits, its loops only over batch and k', () => {
    for (const [v, code] of VARIANTS.flatMap((x) => [[x, matmulWgsl(x)] as const, ...(x.vec ? [[x, matmulWgsl(x, 'bfloat16')] as const] : [])])) {
      expect(code.match(/\bfor \(/g), v.name).toHaveLength(2);
      const [, x, y = '1'] = /@workgroup_size\((\d+)(?:, (\d+))?\)/.exec(code)!;
      expect(Number(x) * Number(y), v.name).toBeLessThanOrEqual(256);
      const words = [...code.matchAll(/var<workgroup> \w+: array<vec4f, (\d+)>/g)].reduce((n, m) => n + Number(m[1]), 0);
      expect(words * 16, v.name).toBeLessThanOrEqual(16384);
    }
    expect(() => matmulWgsl({ ...VARIANTS[0]!, TM: 6 })).toThrow(/^matmul: variant matmul-128x128 is inconsistent/);
  });
});
