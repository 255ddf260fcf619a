/**
 * The WGSL of each kernel: wgsl/common.wgsl (the prelude every kernel shares: workgroup
 * reductions, NaN and ±∞ helpers, index helpers) followed by the kernel's own source — a file of
 * wgsl/ (embedded in a generated module by scripts/embed-wgsl.mjs, so no filesystem is needed), or
 * a tiled matmul variant generated on first use (kernels/matmul-wgsl.ts).
 */
import { fail } from '../../errors.ts';
import { matmulWgsl, VARIANTS } from './kernels/matmul-wgsl.ts';
import { WGSL } from './wgsl.generated.ts';

const PRELUDE = 'common';

/** The WGSL module of kernel `name` (a file of wgsl/ without the extension, or a matmul variant): prelude + kernel. */
export function shaderSource(name: string): string {
  const v = VARIANTS.find((x) => x.name === name);
  const kernel = v ? matmulWgsl(v) : WGSL[name];
  if (kernel === undefined || name === PRELUDE) {
    const names = [...Object.keys(WGSL).filter((n) => n !== PRELUDE), ...VARIANTS.map((x) => x.name)];
    fail('webgpu', `no kernel named '${name}'; expected one of ${names.join(', ')}`);
  }
  return `${WGSL[PRELUDE]}\n${kernel}`;
}
