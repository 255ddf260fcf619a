/**
 * lorafa as a user gets it: packed, installed into a new project without dev dependencies, then
 * used from plain Node, type-checked by tsc, run as the `lorafa` command, and bundled for a browser
 * page that runs it in headless Chromium on the CPU and on WebGPU (navigator.gpu: SwiftShader here).
 * Without Chromium the browser test is skipped with the reason, unless REQUIRE_BROWSER=1 (CI).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CpuInfo } from '../../src/index.ts';
import { bundle, CHROMIUM, CHROMIUM_ARGS, hasChromium, packAndInstall, root, run, serve } from './consumer-project.ts';

const requireBrowser = process.env.REQUIRE_BROWSER === '1';
if (!hasChromium && requireBrowser) throw new Error(`REQUIRE_BROWSER=1 but ${CHROMIUM} is missing (apt-get install -y chromium)`);
const browserSkip = hasChromium ? '' : `(skipped: no ${CHROMIUM}; set REQUIRE_BROWSER=1 to make this an error)`;

interface NodeResult {
  bytes: number;
  expectedBytes: number;
  relError: number;
  y: number[];
  gradB: number[];
}

let dir = '';
let fromNode: NodeResult;

beforeAll(async () => {
  ({ dir } = await packAndInstall());
  fromNode = JSON.parse((await run('node', ['app.mjs'], dir)).stdout) as NodeResult;
}, 300_000);

/** |a − b| ≤ atol + rtol·|b| for every element (float32 results of two backends). */
function expectCloseTo(a: number[], b: number[], rtol: number, atol: number): void {
  expect(a.length).toBe(b.length);
  const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]!) - rtol * Math.abs(b[i]!)));
  expect(worst).toBeLessThanOrEqual(atol);
}

describe('the packed tarball', () => {
  it('plain node ESM: LoRA-FA forward + backward, σ·A·g̃_B = P_A·G, and measureSaved keeps N·r·4 bytes', () => {
    expect(fromNode.bytes).toBe(fromNode.expectedBytes);
    expect(fromNode.relError).toBeLessThan(1e-12);
  });

  it('type-checks in a `tsc --init` project under strict, skipLibCheck false, exactOptionalPropertyTypes and noUncheckedIndexedAccess on and off', async () => {
    const tsc = `${root}node_modules/.bin/tsc`;
    await run(tsc, ['--init'], dir);
    for (const exact of ['true', 'false']) {
      for (const unchecked of ['true', 'false']) {
        const flags = ['--noEmit', '--skipLibCheck', 'false', '--exactOptionalPropertyTypes', exact, '--noUncheckedIndexedAccess', unchecked];
        const out = await run(tsc, ['-p', 'tsconfig.json', ...flags], dir).catch((e: { stdout: string }) => ({ stdout: e.stdout, failed: true }));
        expect(out, `tsc ${flags.join(' ')}:\n${out.stdout}`).not.toHaveProperty('failed');
      }
    }
  }, 120_000);

  it('runs the lorafa command: calc reproduces Appendix C, verify checks the projection claims, the lab runs', async () => {
    const calc = await run('npx', ['lorafa', 'calc', '--model', 'llama2-7b', '--batch', '8', '--seq', '1024', '--dtype', 'bf16'], dir);
    expect(calc.stdout).toContain('holds with own copies (18.66 GB), does not hold with shared inputs (12.21 GB)');
    const verify = await run('npx', ['lorafa', 'verify', '--only', 'projection', '--runs', '20'], dir);
    expect(verify.stdout).toMatch(/\n2 of 2 claims hold/);
    // the lab from the package: its bundled text and base checkpoint, and the charts (loaded only here)
    const lab = await run('npx', ['lorafa', 'lab', '--steps', '1', '--methods', 'lorafa', '--batch', '2', '--seq', '8', '--seeds', '1', '--out', 'run'], dir);
    expect(lab.stdout).toContain('wrote run/report.md, loss.svg, alignment.svg, memory.svg, memory-per-method.svg, memory-timeline.svg, results.json');
    expect(readFileSync(join(dir, 'run', 'loss.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>$/);
  }, 120_000);

  it.skipIf(!hasChromium)(`runs in headless Chromium on the CPU and on WebGPU, as in Node, with no console error; the CPU on one thread, or two on a cross-origin-isolated page ${browserSkip}`, async () => {
    await bundle(dir, 'browser-app.js', 'bundle.js');
    for (const isolated of [false, true]) await inChromium(isolated);
  }, 180_000);

  /** The browser page, served cross-origin isolated or not. */
  async function inChromium(isolated: boolean): Promise<void> {
    const server = await serve(dir, isolated);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(server.url);
      type PageGlobals = { __lorafa?: Record<string, unknown> }; // what browser-app.js sets on window
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).__lorafa !== undefined, null, { timeout: 60_000 });
      const result = (await page.evaluate(() => (globalThis as unknown as PageGlobals).__lorafa))!;
      expect(result.error).toBeUndefined();
      const { cpu, cpuInfo, webgpu, adapter } = result as { cpu: NodeResult; cpuInfo: CpuInfo; webgpu: NodeResult; adapter: string };
      expect(adapter).toMatch(/^WebGPU \(navigator\.gpu, featureLevel (core|compatibility)\)/);
      // the WebAssembly tier: shared memory and 2 threads (Web Workers) only when the page is isolated
      expect(cpuInfo).toMatchObject({ tier: 'wasm', sharedMemory: isolated, threads: isolated ? 2 : 1 });
      if (!isolated) expect(cpuInfo.limits.join()).toMatch(/no shared memory.*not cross-origin isolated/);
      // the same kernels in another V8, on one thread or two, staged or in place: the same bits
      expect(cpu.y).toEqual(fromNode.y);
      expect(cpu.gradB).toEqual(fromNode.gradB);
      // Chromium's own WebGPU: float32 with another summation order
      expectCloseTo(webgpu.y, fromNode.y, 1e-4, 1e-4);
      expectCloseTo(webgpu.gradB, fromNode.gradB, 1e-4, 1e-3);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  }
});
