/**
 * bench/RESULTS.md holds one section per benchmark, between `<!-- name:begin -->` and
 * `<!-- name:end -->`: each benchmark rewrites its own section and keeps the rest of the file.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFileAtomicSync } from '../src/io/atomic-write.ts';

const path = new URL('./RESULTS.md', import.meta.url);

/** Replaces section `name` of RESULTS.md with body (or appends it); returns the file's path. */
export function writeSection(name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`, end = `<!-- ${name}:end -->`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    text = '# Benchmark results\n';
  }
  const block = `${begin}\n${body}\n${end}`;
  const i = text.indexOf(begin), j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileAtomicSync(fileURLToPath(path), text);
  return fileURLToPath(path);
}
