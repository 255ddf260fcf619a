/**
 * The playground as a learner gets it: `vite build` of playground/ into a temporary folder, served
 * on 127.0.0.1, driven in Debian's headless Chromium (WebGPU through SwiftShader), each panel's
 * numbers checked against the same computation in Node, each panel screenshotted into
 * test/playground/output/ (gitignored), and axe-core run on the page. Without Chromium the tests are
 * skipped with the reason, unless REQUIRE_BROWSER=1 (CI).
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureSaved, memory } from '../../src/index.ts';
import { loadText } from '../../src/data/load-text.ts';
import { loadCheckpoint } from '../../src/lab/checkpoint.ts';
import { fineTune } from '../../src/lab/fine-tune.ts';
import { makeData, projectionView, singleLayerForward } from '../../src/verify/index.ts';
import { fineTuneOptions, type FineTuneSettings } from '../../playground/src/finetune-options.ts';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, root, serve } from '../package/consumer-project.ts';

const requireBrowser = process.env.REQUIRE_BROWSER === '1';
if (!hasChromium && requireBrowser) throw new Error(`REQUIRE_BROWSER=1 but ${CHROMIUM} is missing (apt-get install -y chromium)`);
const skip = hasChromium ? '' : ` (skipped: no ${CHROMIUM}; set REQUIRE_BROWSER=1 to make this an error)`;

const OUTPUT = fileURLToPath(new URL('./output/', import.meta.url));
/** Chromium without WebGPU: no --enable-unsafe-webgpu, and the feature switched off. */
const NO_WEBGPU_ARGS = [...CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'), '--disable-features=WebGPU'];

let server: { url: string; close: () => Promise<void> };
let browser: Browser;
let page: Page;
const errors: string[] = [];

async function open(b: Browser): Promise<Page> {
  const p = await b.newPage({ viewport: { width: 1200, height: 900 } });
  p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(server.url);
  await p.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  return p;
}

/** The full-precision numbers of the elements matching selector (data-value or the attribute given). */
const numbers = (p: Page, selector: string, attr = 'data-value') =>
  p.$$eval(selector, (els, a) => els.map((e) => Number(e.getAttribute(a))), attr);

/** Runs the fine-tune panel with its default settings on the chosen device; returns the losses by method. */
async function fineTuneOnPage(p: Page, device: 'auto' | 'cpu'): Promise<{ device: string; losses: Record<string, number[]>; saved: Record<string, number[]> }> {
  await p.selectOption('#f-device-choice', device);
  await p.click('#f-start');
  await p.waitForSelector('#f-status[data-state="done"], #f-status[data-state="error"]', { timeout: 240_000 });
  expect(await p.textContent('#f-status')).toBe('done');
  const rows = await p.$$eval('#f-rows tr', (trs) => trs.map((tr) => [tr.getAttribute('data-method')!, Number(tr.getAttribute('data-loss')), Number(tr.getAttribute('data-saved'))] as const));
  const losses: Record<string, number[]> = {}, saved: Record<string, number[]> = {};
  for (const [m, loss, bytes] of rows) {
    (losses[m] ??= []).push(loss);
    (saved[m] ??= []).push(bytes);
  }
  return { device: (await p.getAttribute('#f-device', 'data-device'))!, losses, saved };
}

/** The panel's default run (LoRA and LoRA-FA, 10 steps of 2 × 16 characters, rank 4, seed 42), in Node on the CPU. */
const DEFAULT_RUN: FineTuneSettings = { methods: ['lora', 'lorafa'], steps: 10, batch: 2, seq: 16, rank: 4, seed: 42 };
type Run = { losses: Record<string, number[]>; saved: Record<string, number[]> };
let inNode: Run | null = null;
async function nodeRun(): Promise<Run> {
  if (inNode) return inNode;
  const out: Run = { losses: {}, saved: {} };
  for (const m of DEFAULT_RUN.methods) {
    const r = await fineTune(() => loadCheckpoint(), loadText('finetune'), fineTuneOptions(m, DEFAULT_RUN, 'cpu'));
    out.losses[m] = r.curve.map((c) => c.loss);
    out.saved[m] = r.curve.map(() => r.savedBytes); // every step saves the same tensors
  }
  return (inNode = out);
}

/** |a − b| ≤ tol·max(1, |b|) elementwise. */
function expectLossesClose(a: Record<string, number[]>, b: Record<string, number[]>, tol: number): void {
  expect(Object.keys(a)).toEqual(Object.keys(b));
  for (const m of Object.keys(b)) {
    expect(a[m]!.length, m).toBe(10);
    const worst = Math.max(...a[m]!.map((v, i) => Math.abs(v - b[m]![i]!) / Math.max(1, Math.abs(b[m]![i]!))));
    expect(worst, `${m}: ${a[m]} vs ${b[m]}`).toBeLessThanOrEqual(tol);
  }
}

describe.skipIf(!hasChromium)(`the playground in headless Chromium${skip}`, () => {
  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    const outDir = mkdtempSync(join(tmpdir(), 'lorafa-playground-'));
    await build({ configFile: join(root, 'playground/vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'warn' });
    server = await serve(outDir);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await open(browser);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads with no console error, detects WebGPU (SwiftShader here) and says what runs where', async () => {
    expect(await page.getAttribute('#runtime-gpu', 'data-webgpu')).toBe('true');
    expect(await page.textContent('#runtime-gpu')).toMatch(/^WebGPU: detected \(adapter .+\)/);
    expect(await page.textContent('#runtime-cpu')).toMatch(/lorafa's CPU \(WebAssembly SIMD, 1 thread, no shared memory\)/);
    expect(errors).toEqual([]);
  });

  it('the projection panel shows the numbers of a Node run of the same seed (changed from the keyboard), and its heatmaps with shapes', async () => {
    await page.focus('#p-seed');
    await page.keyboard.press('ArrowRight'); // seed 7 → 8
    expect(await page.textContent('#p-seed-out')).toBe('8');
    const v = projectionView(makeData({ N: 8, d: 10, o: 8, r: 3, sigma: 2, seed: 8, init: 'gaussian', dtype: 'float64' }));
    // Chromium's V8 and Node's may round a Math.log or Math.cos of the Gaussian draws differently in
    // the last bit, so quantities that are themselves rounding errors (claims' errors, ‖σA·g̃_B − P_A·G‖)
    // may differ by O(ε); the tolerances, and every quantity of size 1, agree to 1e-12.
    const shown = await numbers(page, '#p-claims td > span[data-value]');
    expect(shown.filter((_, i) => i % 2 === 1)).toEqual(v.claims.map((c) => c.tolerance));
    v.claims.forEach((c, i) => {
      expect(shown[2 * i]!, c.id).toBeLessThanOrEqual(c.tolerance);
      expect(Math.abs(shown[2 * i]! - c.error), c.id).toBeLessThanOrEqual(c.tolerance);
    });
    const [corrected, inner, sigma] = await numbers(page, '#p-distance > span[data-value]');
    expect([corrected! < 1e-12, inner! < 1e-12, v.distance.corrected < 1e-12, v.residualInner < 1e-12, sigma]).toEqual([true, true, true, true, v.sigma]);
    expect(await page.textContent('#p-claims')).not.toContain('does not hold');
    const captions = await page.$$eval('#projection figcaption b', (bs) => bs.map((b) => `${b.textContent} ${b.nextElementSibling!.textContent}`));
    expect(captions).toEqual([
      'G = Xᵀ·dY [10, 8]', 'g_B = σ·Aᵀ·G (LoRA) [3, 8]', 'g̃_B (LoRA-FA) [3, 8]', 'σ·A·g̃_B (closed form) [10, 8]', 'P_A·G [10, 8]',
      'residual R = G − P_A·G [10, 8]', 'Aᵀ·R (inner products with A’s columns) [3, 8]',
    ]);
    await page.click('#p-closed-form'); // the uncorrected g_B: far from P_A·G
    expect(Math.abs((await numbers(page, '#p-distance > span[data-value]'))[0]! / v.distance.uncorrected - 1)).toBeLessThan(1e-12);
    expect(v.distance.uncorrected).toBeGreaterThan(0.01);
    await page.click('#p-closed-form');
    await page.locator('#projection').screenshot({ path: join(OUTPUT, 'projection.png') });
  });

  it('a malformed matrix shows an error on the page and nothing breaks', async () => {
    const before = await numbers(page, '#p-claims td > span[data-value]');
    await page.click('#projection summary');
    await page.fill('#p-json', '{"X": [[1, 2], [3]], "dY": [[1], [2]], "A": [[1], [1]]}');
    await page.click('#p-apply');
    expect(await page.isVisible('#p-error')).toBe(true);
    expect(await page.textContent('#p-error')).toMatch(/^projection: "X" row 1 is \[3\]; expected "X" as a non-empty array/);
    expect(await numbers(page, '#p-claims td > span[data-value]')).toEqual(before); // the last good result stays
    await page.locator('#projection').screenshot({ path: join(OUTPUT, 'projection-error.png') });
    await page.fill('#p-json', '{"X": [[1, 0], [0, 1], [1, 1]], "dY": [[1, 2], [3, 4], [5, 6]], "A": [[1], [1]]}');
    await page.click('#p-apply');
    expect(await page.isVisible('#p-error')).toBe(false);
    expect(await page.textContent('#p-source')).toMatch(/from the text box/);
    await page.click('#p-clear');
    expect(errors).toEqual([]);
  });

  it('the saved-bytes panel equals measureSaved in Node for every method, with and without dropout', async () => {
    const c = { N: 16, d: 32, o: 24, r: 4, seed: 1, dtype: 'float32' as const };
    for (const method of memory.ADAPTER_KINDS) {
      for (const p of [0, 0.1]) {
        const node = measureSaved(singleLayerForward(method, { ...c, p }));
        node.result.dispose();
        const cell = async (kind: string) => Number(await page.textContent(`#s-table td[data-method="${method}"][data-dropout="${p}"][data-kind="${kind}"]`));
        expect(await cell('measured'), `${method} p = ${p}`).toBe(node.bytes);
        expect(await cell('graph'), `${method} p = ${p}`).toBe(node.bytes);
        expect(await cell('analytic'), `${method} p = ${p}`).toBe(node.bytes);
      }
    }
    expect(await page.textContent('#s-graph')).toContain('saves [16, 4] float32 · 256 B'); // LoRA-FA keeps XA on its node
    await page.locator('#saved').screenshot({ path: join(OUTPUT, 'saved.png') });
  });

  it('fine-tunes 10 steps on WebGPU in a worker; the losses match a Node run of the same seed within float32 tolerance', async () => {
    const run = await fineTuneOnPage(page, 'auto');
    expect(run.device).toBe('webgpu');
    expect(await page.textContent('#f-device')).toMatch(/^WebGPU detected\. Fine-tuning runs in a Web Worker on WebGPU \(/);
    expectLossesClose(run.losses, (await nodeRun()).losses, 2e-3);
    expect(run.saved).toEqual((await nodeRun()).saved);
    expect(await page.$$eval('#f-summary li', (lis) => lis.length)).toBe(2);
    await page.locator('#finetune').screenshot({ path: join(OUTPUT, 'finetune.png') });
    expect(errors).toEqual([]);
  }, 300_000);

  it('the CPU backend in the worker gives the losses of Node', async () => {
    const run = await fineTuneOnPage(page, 'cpu');
    expect(run.device).toBe('cpu');
    expectLossesClose(run.losses, (await nodeRun()).losses, 1e-6);
    expect(run.saved).toEqual((await nodeRun()).saved);
  }, 300_000);

  it('axe-core finds no serious or critical accessibility violation', async () => {
    await page.addScriptTag({ content: readFileSync(join(root, 'node_modules/axe-core/axe.min.js'), 'utf8') });
    type Axe = { run: () => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> };
    const violations = await page.evaluate(async () => (await (globalThis as unknown as { axe: Axe }).axe.run()).violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })));
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
    await page.screenshot({ path: join(OUTPUT, 'page.png'), fullPage: true });
  });

  it('falls back to the CPU when the browser has no WebGPU, and says so', async () => {
    const plain = await chromium.launch({ executablePath: CHROMIUM, args: NO_WEBGPU_ARGS });
    try {
      const p = await open(plain);
      expect(await p.getAttribute('#runtime-gpu', 'data-webgpu')).toBe('false');
      expect(await p.textContent('#runtime-gpu')).toMatch(/^WebGPU: (not available in this browser|navigator\.gpu found no adapter)/);
      const run = await fineTuneOnPage(p, 'auto');
      expect(run.device).toBe('cpu');
      expect(await p.textContent('#f-device')).toMatch(/^CPU fallback: .*Fine-tuning runs in a Web Worker on CPU/);
      expectLossesClose(run.losses, (await nodeRun()).losses, 1e-6);
      expect(errors).toEqual([]);
    } finally {
      await plain.close();
    }
  }, 300_000);
});
