/**
 * A new user's project with lorafa installed from the packed tarball, as the package tests and the
 * bundle-size benchmark use it: `npm pack` (which builds dist/), a fresh folder with the consumer
 * files of ./consumer, `npm install <tarball> --omit=dev`. Plus the pieces a browser run needs: an
 * esbuild bundle for platform 'browser', a static server on 127.0.0.1, and Debian's Chromium.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const exec = promisify(execFile);

/** Runs a command; resolves with its output, or rejects with an error carrying stdout and stderr. */
export async function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return exec(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
}

/** Packs the repository and installs the tarball, without dev dependencies, into a new project. */
export async function packAndInstall(): Promise<{ dir: string; tarball: string }> {
  const tmp = mkdtempSync(join(tmpdir(), 'lorafa-package-'));
  const { stdout } = await run('npm', ['pack', '--pack-destination', tmp, '--json'], root);
  const [{ filename }] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[];
  const tarball = join(tmp, filename);
  const dir = join(tmp, 'project');
  cpSync(fileURLToPath(new URL('./consumer/', import.meta.url)), dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'lorafa-consumer', private: true, type: 'module' }, null, 2));
  await run('npm', ['install', tarball, '--omit=dev', '--no-audit', '--no-fund'], dir);
  return { dir, tarball };
}

/** Bundles entry (a file of the project) for browsers; returns the output's size in bytes. */
export async function bundle(dir: string, entry: string, outfile: string, minify = false): Promise<number> {
  await run(bin('esbuild'), [entry, '--bundle', '--format=esm', '--platform=browser', `--outfile=${outfile}`, ...(minify ? ['--minify'] : [])], dir);
  return (await readFile(join(dir, outfile))).length;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.txt': 'text/plain; charset=utf-8' };

/**
 * Serves dir's files on 127.0.0.1 (a secure context: WebGPU is available there); crossOriginIsolated
 * adds the two headers that let a page share memory with its workers (COOP same-origin, COEP require-corp).
 */
export async function serve(dir: string, crossOriginIsolated = false): Promise<{ url: string; close: () => Promise<void> }> {
  const isolation = crossOriginIsolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  const server: Server = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    readFile(path.endsWith('/') ? join(path, 'index.html') : path).then(
      (body) => {
        res.writeHead(200, { 'content-type': TYPES[extname(path) || '.html'] ?? 'application/octet-stream', ...isolation });
        res.end(body);
      },
      () => {
        res.writeHead(404);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Debian's Chromium (installed by .ci/run with apt-get; never a downloaded browser). */
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** Chromium's flags on these machines: WebGPU through SwiftShader, no sandbox (root), no network chatter. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-default-apps',
];
