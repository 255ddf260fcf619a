/**
 * The WGSL of each kernel: wgsl/common.wgsl (the prelude every kernel shares: workgroup
 * reductions, NaN and ±∞ helpers, index helpers) followed by wgsl/<name>.wgsl, read once.
 */
import { readFileSync } from 'node:fs';

const PRELUDE = 'common';
const files = new Map<string, string>();

function file(name: string): string {
  let text = files.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`../../../wgsl/${name}.wgsl`, import.meta.url), 'utf8');
    files.set(name, text);
  }
  return text;
}

/** The WGSL module of kernel `name` (a file of wgsl/, without the extension): prelude + kernel. */
export function shaderSource(name: string): string {
  return `${file(PRELUDE)}\n${file(name)}`;
}
