/**
 * Bundle size: what lorafa adds to a web page. Packs the repository, installs the tarball into a new
 * project and bundles the package tests' browser consumers with esbuild (--bundle --minify,
 * platform browser): the LoRA-FA forward + backward on the CPU only, and with WebGPU too. Writes
 * the bundle section of bench/RESULTS.md.
 *
 *   npm run bench:bundle
 */
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundle, packAndInstall } from '../test/package/consumer-project.ts';
import { writeSection } from './results.ts';

const { dir } = await packAndInstall();
const rows: string[] = [];
for (const [label, entry] of [['CPU only (`cpu-app.js`)', 'cpu-app.js'], ['CPU and WebGPU (`browser-app.js`)', 'browser-app.js']] as const) {
  const out = `${entry}.min.js`;
  const bytes = await bundle(dir, entry, out, true);
  const gzipped = gzipSync(readFileSync(join(dir, out))).length;
  rows.push(`| ${label} | ${(bytes / 1024).toFixed(1)} KiB | ${(gzipped / 1024).toFixed(1)} KiB |`);
}
const section = [
  '## Browser bundle size (bench/bundle.ts)',
  '',
  `Command: \`npm run bench:bundle\`, ${new Date().toISOString().slice(0, 10)}: the packed tarball installed into a new project,`,
  'each consumer of test/package/consumer bundled by esbuild (`--bundle --minify --platform=browser --format=esm`).',
  'Both run the same LoRA-FA forward + backward; the second also initialises WebGPU through `navigator.gpu`.',
  '',
  '| consumer | minified | minified + gzip |',
  '| --- | ---: | ---: |',
  ...rows,
].join('\n');
console.log(section);
console.log(`\nupdated the bundle section of ${writeSection('bundle', section)}`);
