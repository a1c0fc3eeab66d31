// bench.html as a person uses it on the built site: `vite build` into a temporary
// folder, `vite preview` of that folder alone, headless Chromium on SwiftShader; a quick run of the dense model
// (no PyTorch column: a page has no Python).
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { attachments, buildSite, type BuiltSite } from './site';
import { COLOURS } from '../../bench/charts';
import type { BenchResult } from '../../bench/suite';

const screenshot = resolve(attachments, 'bench-page.png');

let site: BuiltSite;
beforeAll(async () => {
  site = await buildSite('bench');
}, 240_000);
afterAll(() => site?.close());

// The run measures the roofline first (a few seconds of micro-kernels on SwiftShader), then mlp; on a
// machine shared with other work it has taken 85 s.
test('bench.html: quick mode on mlp gives the comparison table, the charts and the JSON', { timeout: 240_000 }, async ({ annotate }) => {
  const page = await site.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(site.url('bench.html'));

  const run = page.getByTestId('bench-run');
  const runButton = run.locator('button[type=submit]');
  await page.waitForSelector('[data-testid=bench-run] button[type=submit]:not([disabled])', { timeout: 30_000 });
  expect(await page.locator('#adapter').textContent()).toMatch(/swiftshader/i);
  // chromiumLaunchOptions turns the WebGPU developer features on, and with them unrounded timestamps.
  expect(await page.locator('#timestamps').textContent()).toBe('available, not rounded.');

  await run.locator('input[name=model][value=cnn]').uncheck();
  await run.locator('input[name=mode][value=quick]').check();
  await run.locator('input[name=batches]').fill('128');
  await runButton.click();
  await page.getByTestId('bench-json').waitFor({ state: 'visible', timeout: 180_000 });

  const table = page.getByTestId('bench-table').locator('table', { has: page.locator('th', { hasText: 'TF.js / ours' }) });
  const header = await table.locator('th').allTextContents();
  const cells = await table.locator('tbody tr').first().locator('td').allTextContents();
  const cell = (name: string) => cells[header.indexOf(name)];
  expect(cells[0]).toBe('mlp');
  const ours = parseFloat(cell('Ours ms/step'));
  const theirs = parseFloat(cell('TF.js ms/step'));
  expect(ours).toBeGreaterThan(0);
  expect(theirs).toBeGreaterThan(0);
  expect(cell('TF.js / ours')).toMatch(/^\d+(\.\d+)?×$/);
  // A page has no Python: the PyTorch column is empty, and a line under the table says why.
  expect(cell('PyTorch CPU ms/step')).toBe('—');
  expect(await page.getByTestId('bench-table').textContent()).toContain('PyTorch CPU, no figures for mlp: not available in a browser page');

  // The comparison chart has a bar of each side's colour (charts.ts), the roofline its roof and points, and the kernel chart its bars.
  const canvases = page.getByTestId('bench-chart').locator('canvas');
  expect(await canvases.count()).toBe(3);
  // Pixels of exactly each colour: Chart.js fills a bar with its colour.
  const [comparison, roofline, kernels] = await canvases.evaluateAll(
    (all, colours) =>
      all.map((element) => {
        const canvas = element as HTMLCanvasElement;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        return colours.map((hex) => {
          const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
          let count = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i] === r && data[i + 1] === g && data[i + 2] === b && data[i + 3] === 255) count++;
          return count;
        });
      }),
    [COLOURS.ours, COLOURS.tfjs, COLOURS.roof, COLOURS.models[0]],
  );
  expect(comparison[0], 'pixels of our bar').toBeGreaterThan(100);
  expect(comparison[1], "pixels of TensorFlow.js' bar").toBeGreaterThan(100);
  expect(kernels[0], 'pixels of the kernel bars').toBeGreaterThan(100);
  expect(roofline[2], 'pixels of the roof').toBeGreaterThan(100);
  expect(roofline[3], "pixels of mlp's points").toBeGreaterThan(20);

  // The roofline's table, and each kernel's place under it.
  const report = page.getByTestId('bench-table');
  expect(await report.locator('table', { has: page.locator('th', { hasText: /^Roof( \(|$)/ }) }).locator('td').first().textContent()).toMatch(/^f32 multiply-adds/);
  const kernelTable = report.locator('table', { has: page.locator('th', { hasText: 'Of roofline' }) }).last();
  const kernelHeader = await kernelTable.locator('th').allTextContents();
  for (const row of await kernelTable.locator('tbody tr').all()) {
    expect((await row.locator('td').allTextContents())[kernelHeader.indexOf('Of roofline')]).toMatch(/^\d+(\.\d+)?%$/);
  }

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('bench-json').click()]);
  const result = JSON.parse(await readFile(await download.path(), 'utf8')) as BenchResult;
  expect(result.options).toEqual({ quick: true, models: ['mlp'], batches: [128], autotune: 'cached' });
  expect(result.environment.runtime).toBe('browser');
  expect(result.models[0].oursMsPerStep).toBeGreaterThan(0);
  expect(result.models[0].pytorch).toMatchObject({ msPerStep: null, reason: expect.stringMatching(/^not available in a browser page: /) });
  // The table shows the JSON's figures, to three significant figures.
  expect(Math.abs(ours / result.models[0].oursMsPerStep - 1)).toBeLessThan(0.01);
  expect(result.models[0].ratio).toBeCloseTo(result.models[0].tfjsMsPerStep! / result.models[0].oursMsPerStep, 6);

  // The roofline: positive peaks (SwiftShader has no shader-f16), and every kernel and the step placed under it.
  const roof = result.roofline;
  expect(roof.gflops.rate).toBeGreaterThan(0);
  expect(roof.gbPerSecond.rate).toBeGreaterThan(0);
  expect(roof.f16Gflops).toBeNull();
  expect(roof.ridge).toBeCloseTo(roof.gflops.rate / roof.gbPerSecond.rate, 9);
  const relative = (got: number, want: number) => expect(Math.abs(got / want - 1)).toBeLessThan(1e-9);
  for (const k of result.models[0].kernels.rows) {
    expect(k.rooflineFraction, k.kernel).toBeGreaterThan(0);
    expect(k.intensity).toBeCloseTo(k.flops! / k.bytes!, 12);
    if (k.flops! > 0) {
      expect(k.boundGflops).toBeGreaterThan(0);
      expect(k.boundGflops).toBeLessThanOrEqual(roof.gflops.rate);
      relative(k.rooflineFraction!, k.gflops! / k.boundGflops!);
    } else {
      relative(k.rooflineFraction!, k.gbPerSecond! / roof.gbPerSecond.rate);
    }
  }
  const step = result.models[0].ours;
  expect(step.intensity).toBeGreaterThan(0);
  expect(step.boundGflops).toBeGreaterThan(0);
  relative(step.rooflineFraction, step.gflops / step.boundGflops);

  await mkdir(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  await annotate('bench.html after a quick run of mlp', { path: screenshot, contentType: 'image/png' });
  expect(pageErrors).toEqual([]);
});
