/**
 * The WGSL of each kernel: wgsl/common.wgsl (the prelude every kernel shares: workgroup
 * reductions, NaN and ±∞ helpers, index helpers) followed by wgsl/<name>.wgsl. The files are
 * embedded in a generated module (scripts/embed-wgsl.mjs), so no filesystem is needed.
 */
import { fail } from '../../errors.ts';
import { WGSL } from './wgsl.generated.ts';

const PRELUDE = 'common';

/** The WGSL module of kernel `name` (a file of wgsl/, without the extension): prelude + kernel. */
export function shaderSource(name: string): string {
  const kernel = WGSL[name];
  if (kernel === undefined || name === PRELUDE) fail('webgpu', `no kernel named '${name}' in wgsl/; expected one of ${Object.keys(WGSL).filter((n) => n !== PRELUDE).join(', ')}`);
  return `${WGSL[PRELUDE]}\n${kernel}`;
}
