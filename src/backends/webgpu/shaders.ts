/**
 * The WGSL of each kernel: wgsl/common.wgsl (the prelude every kernel shares: workgroup
 * reductions, NaN and ±∞ helpers, index helpers) followed by the kernel's own source — a file of
 * wgsl/ (embedded in a generated module by scripts/embed-wgsl.mjs, so no filesystem is needed), or
 * a tiled matmul variant generated on first use (kernels/matmul-wgsl.ts), also in float16 and
 * bfloat16 (`<variant>-float16`, `<variant>-bfloat16`).
 */
import { fail } from '../../errors.ts';
import { halfVariantName, matmulWgsl, VARIANTS } from './kernels/matmul-wgsl.ts';
import { WGSL } from './wgsl.generated.ts';

const PRELUDE = 'common';

/** The matmul variants that read and write packed float16 or bfloat16 (the vec4 ones). */
const HALF_VARIANTS = VARIANTS.filter((v) => v.vec).flatMap((v) => (['float16', 'bfloat16'] as const).map((half) => ({ name: halfVariantName(v, half), v, half })));

/** The WGSL module of kernel `name` (a file of wgsl/ without the extension, or a matmul variant): prelude + kernel. */
export function shaderSource(name: string): string {
  const v = VARIANTS.find((x) => x.name === name);
  const h = v ? undefined : HALF_VARIANTS.find((x) => x.name === name);
  const kernel = v ? matmulWgsl(v) : h ? matmulWgsl(h.v, h.half) : WGSL[name];
  if (kernel === undefined || name === PRELUDE) {
    const names = [...Object.keys(WGSL).filter((n) => n !== PRELUDE), ...VARIANTS.map((x) => x.name), ...HALF_VARIANTS.map((x) => x.name)];
    fail('webgpu', `no kernel named '${name}'; expected one of ${names.join(', ')}`);
  }
  return `${WGSL[PRELUDE]}\n${kernel}`;
}
