// Turns wgsl/*.wgsl — the one source of every kernel — into src/backends/webgpu/wgsl.generated.ts,
// so the shaders reach the GPU without a filesystem (browsers, bundles). Run by `npm run build`,
// `npm test` and `npm ci` (prepare); test/webgpu/shaders.test.ts checks the module matches the files.
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const names = readdirSync(new URL('wgsl/', root)).filter((f) => f.endsWith('.wgsl')).sort();
const entries = names.map((f) => `  ${JSON.stringify(f.slice(0, -'.wgsl'.length))}: ${JSON.stringify(readFileSync(new URL(`wgsl/${f}`, root), 'utf8'))},`);
const text = `// Generated from wgsl/*.wgsl by scripts/embed-wgsl.mjs: edit the .wgsl files, not this one.
/** The WGSL source of each kernel file, by name (without the extension). */
export const WGSL: Readonly<Record<string, string>> = {
${entries.join('\n')}
};
`;
const out = new URL('src/backends/webgpu/wgsl.generated.ts', root);
let old = '';
try {
  old = readFileSync(out, 'utf8');
} catch {
  // first run
}
if (old !== text) {
  // atomically: a temporary file renamed over the old one
  const tmp = new URL(`src/backends/webgpu/.wgsl.generated.ts.${process.pid}.tmp`, root);
  writeFileSync(tmp, text);
  renameSync(tmp, out);
}
