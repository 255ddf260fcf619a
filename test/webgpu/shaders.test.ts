import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shaderSource } from '../../src/backends/webgpu/shaders.ts';
import { WGSL } from '../../src/backends/webgpu/wgsl.generated.ts';

const dir = new URL('../../wgsl/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.wgsl')).sort();

describe('the embedded WGSL', () => {
  it('is exactly wgsl/*.wgsl (scripts/embed-wgsl.mjs regenerates it; run `npm test` or `npm run build`)', () => {
    expect(Object.keys(WGSL).sort()).toEqual(files.map((f) => f.slice(0, -'.wgsl'.length)).sort());
    for (const f of files) expect(WGSL[f.slice(0, -'.wgsl'.length)], f).toBe(readFileSync(new URL(f, dir), 'utf8'));
  });

  it('gives each kernel the prelude first, and refuses a name that is not a kernel', () => {
    expect(shaderSource('matmul')).toBe(`${WGSL.common}\n${WGSL.matmul}`);
    expect(() => shaderSource('common')).toThrow(/no kernel named 'common' in wgsl\/; expected one of adamw, binary/);
    expect(() => shaderSource('nope')).toThrow(/no kernel named 'nope'/);
  });
});
