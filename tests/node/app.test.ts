// The training page (index.html) as a person uses it on the built site: `vite build`
// into a temporary folder, `vite preview` of it, headless Chromium on SwiftShader (slow: small workloads).
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { unzipSync } from 'fflate';
import type { Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { attachments, buildSite, drawSeven, expectLively, readTexts, recordTexts, trainingPage, type BuiltSite } from './site';
import { COLOURS } from '../../src/app/chart';
import { decodeSafetensors } from '../../src/engine/safetensors';

const TEST_IMAGES = 500;

let site: BuiltSite;
let page: Page;
const pageErrors: string[] = [];
const url = () => site.url('');
const { idle, expectNoError, settings, probabilities, pixelsOf } = trainingPage(() => page);

beforeAll(async () => {
  site = await buildSite('app');
  page = await site.browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.on('pageerror', (error) => pageErrors.push(error.message));
}, 240_000);
afterAll(() => site?.close());

/** A screenshot of one view (by its data-testid), kept as the test's attachment. */
async function shot(annotate: TestContext['annotate'], view: string, on: Page = page, name = view): Promise<void> {
  const path = resolve(attachments, `app-${name}.png`);
  await on.getByTestId(view).screenshot({ path });
  await annotate(`the ${view} view (${name})`, { path, contentType: 'image/png' });
}

/** The epoch table's figures of an epoch (1-based), by their data-figure names. */
async function epochFigures(epoch: number): Promise<Record<string, string>> {
  const cells = page.locator('#epochs tbody tr').nth(epoch - 1).locator('td');
  return Object.fromEntries(await cells.evaluateAll((all) => all.map((td) => [(td as HTMLElement).dataset.figure!, td.textContent!])));
}

/** When the live step (texts of #live-step) first showed a step of the run begun after recordTexts: after its '—'. */
function firstStepAt(texts: { at: number; text: string }[]): number {
  const cleared = texts.findIndex((t, i) => i > 0 && t.text === '—');
  const step = texts.find((t, i) => i > cleared && t.text !== '—');
  expect(cleared > 0 && step, JSON.stringify(texts)).toBeTruthy();
  return step!.at;
}

describe.sequential('the training page on the built site', () => {
  test('shows the adapter and loads the built-in MNIST', async ({ annotate }) => {
    await page.goto(url());
    await page.waitForFunction(() => !document.querySelector('#adapter')!.textContent!.includes('…'), null, { timeout: 30_000 });
    expect(await page.locator('#adapter').textContent()).toMatch(/swiftshader/i);
    expect(await page.locator('#train-adapter').textContent()).toMatch(/swiftshader/i);
    await page.getByRole('button', { name: 'Load MNIST' }).click();
    await page.waitForSelector('#data-status .ok', { timeout: 60_000 });
    expect(await page.locator('#data-status').textContent()).toContain('60,000 training and 10,000 test images');
    expect(await page.locator('#samples canvas').count()).toBe(10);
    // On a software adapter the dense model is the default, and a note says why.
    expect(await page.locator('#train-form [name=model]').inputValue()).toBe('mlp');
    expect(await page.locator('#defaults-note').textContent()).toMatch(/^WebGPU runs on a software adapter here: .* so the dense model \(mlp\) is chosen\./);
    // The tutorial's optimizer and learning rate are the defaults.
    expect(await page.locator('#train-form [name=optimizer]').inputValue()).toBe('rmsprop');
    expect(await page.locator('#train-form [name=learningRate]').inputValue()).toBe('0.001');
    await shot(annotate, 'data');
    await shot(annotate, 'bench');
    await expectNoError();
  }, 90_000);

  test('the optimizer choice sets its Keras default learning rate', async () => {
    await settings({ optimizer: 'sgd' });
    expect(await page.locator('#train-form [name=learningRate]').inputValue()).toBe('0.01');
    await settings({ optimizer: 'rmsprop' });
    expect(await page.locator('#train-form [name=learningRate]').inputValue()).toBe('0.001');
  });

  test('trains the dense model on 2000 images for an epoch: chart, figures, confusion matrix, gallery', async ({ annotate }) => {
    await settings({ model: 'mlp', epochs: '1', batchSize: '32', trainLimit: '2000', testLimit: String(TEST_IMAGES), seed: '1', validation: 'test' });
    await page.locator('#train-button').click();
    await idle(120_000);
    await expectNoError();
    expect(await page.locator('#train-status').textContent()).toBe('Done.');
    expect(await page.locator('#train-progress').textContent()).toBe(`Done: an epoch, then a test on ${TEST_IMAGES} test images.`);
    expect(await page.locator('#log').textContent()).toMatch(new RegExp(`test loss: \\d\\.\\d{4} - test accuracy: \\d\\.\\d{4} \\(${TEST_IMAGES} test images\\)$`));

    // 63 steps, a progress update every 4: 16 points per series, and the validation points.
    expect(await page.locator('#chart').getAttribute('aria-label')).toBe('Training chart: loss and accuracy at 16 progress updates');
    expect(await pixelsOf('#chart', COLOURS.loss), 'pixels of the loss series').toBeGreaterThan(50);
    expect(await pixelsOf('#chart', COLOURS.metric), 'pixels of the accuracy series').toBeGreaterThan(50);
    expect(Number(await page.locator('#live-ms').textContent())).toBeGreaterThan(0);
    expect(Number((await page.locator('#live-rate').textContent())!.replace(/,/g, ''))).toBeGreaterThan(0);

    // Keras' printed figure is there, and is not the epoch mean.
    const figures = await epochFigures(1);
    expect(figures.steps).toBe('63');
    for (const name of ['accuracy-mean', 'accuracy-keras', 'loss-mean', 'loss-keras', 'val-accuracy', 'val-loss']) {
      expect(figures[name], name).toMatch(/^\d+\.\d{4}$/);
    }
    expect(figures['accuracy-keras']).not.toBe(figures['accuracy-mean']);
    expect(figures['loss-keras']).not.toBe(figures['loss-mean']);
    // Early in the epoch the model is worse: the mean of the running means is below the epoch mean.
    expect(Number(figures['accuracy-keras'])).toBeLessThan(Number(figures['accuracy-mean']));
    expect(await page.locator('#log').textContent()).toContain(
      `accuracy: ${figures['accuracy-keras']} - loss: ${figures['loss-keras']} (epoch mean: accuracy ${figures['accuracy-mean']} - loss ${figures['loss-mean']})`,
    );

    // The confusion matrix: its cells, row sums, column sums and total all count the test images evaluated.
    const matrix = await page.locator('[data-testid=confusion] tbody tr').evaluateAll((rows) =>
      rows.map((row) => Array.from(row.querySelectorAll('td')).map((td) => Number(td.textContent))),
    );
    expect(matrix.length).toBe(10);
    const cells = matrix.map((row) => row.slice(0, 10));
    const total = cells.flat().reduce((a, b) => a + b, 0);
    expect(total).toBe(TEST_IMAGES);
    matrix.forEach((row, i) => expect(row[10], `row ${i}'s sum`).toBe(cells[i].reduce((a, b) => a + b, 0)));
    const footer = await page.locator('[data-testid=confusion] tfoot td').allTextContents();
    expect(footer.map(Number)).toEqual([...cells[0].map((_, j) => cells.reduce((sum, row) => sum + row[j], 0)), TEST_IMAGES]);
    // Its diagonal is the accuracy evaluate() reports (one tie broken differently at most).
    const right = cells.reduce((sum, row, i) => sum + row[i], 0);
    const reported = Number(/test accuracy (\d\.\d+)/.exec((await page.locator('#test-result').textContent())!)![1]);
    expect(Math.abs(right / TEST_IMAGES - reported)).toBeLessThanOrEqual(1 / TEST_IMAGES + 1e-4);

    // The gallery: the most confident mistakes first.
    const gallery = await page.locator('#gallery figure').evaluateAll((all) =>
      all.map((f) => ({ wrong: f.classList.contains('mistake'), p: Number(/p = ([\d.]+)/.exec((f as HTMLElement).title)![1]) })),
    );
    expect(gallery.length).toBe(100);
    const mistakes = TEST_IMAGES - right;
    const shown = Math.min(mistakes, 100);
    expect(gallery.slice(0, shown).every((f) => f.wrong)).toBe(true);
    for (let i = 1; i < shown; i++) expect(gallery[i].p).toBeLessThanOrEqual(gallery[i - 1].p);
    // A confusion cell shows its own images.
    const [wrongCell] = await page.locator('[data-testid=confusion] td.wrong').all();
    if (wrongCell) {
      const n = Number(await wrongCell.textContent());
      await wrongCell.click();
      expect(await page.locator('#gallery figure').count()).toBe(Math.min(n, 100));
      await page.locator('#gallery-all').click();
    }

    // Test image 0, a 7, with a bar per class.
    const p = await probabilities('#bars');
    expect(p.length).toBe(10);
    expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-4);
    expect(await page.locator('#prediction-text').textContent()).toMatch(/^Test image 0: argmax \d .*true label 7/);

    // The dense network has nothing to show inside.
    expect(await page.locator('#inside-status').textContent()).toContain('has no convolution layers');
    expect(await page.locator('#inside-view canvas').count()).toBe(0);

    await shot(annotate, 'train', page, 'train-mlp');
    await shot(annotate, 'chart', page, 'chart-mlp');
    await shot(annotate, 'results', page, 'results-mlp');
    await shot(annotate, 'confusion', page, 'confusion-mlp');
    await shot(annotate, 'inside', page, 'inside-mlp');
  }, 180_000);

  test("the dense run's checkpoint, saved and resumed, continues with the next epoch", async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#save-checkpoint').click()]);
    expect(download.suggestedFilename()).toMatch(/^mlp-epoch\d+\.checkpoint\.safetensors$/);
    const file = resolve(attachments, 'app-mlp.checkpoint.safetensors');
    await download.saveAs(file);
    // The same settings, one epoch more: training goes on from the end of epoch 1.
    await settings({ epochs: '2' });
    await page.locator('#resume-checkpoint').setInputFiles(file);
    await page.waitForFunction(() => document.querySelector('#log')!.textContent!.includes('Resuming from'), null, { timeout: 60_000 });
    await idle(120_000);
    await expectNoError();
    expect(await page.locator('#train-status').textContent()).toBe('Done.');
    const log = (await page.locator('#log').textContent())!;
    expect(log).toContain('Resuming from app-mlp.checkpoint.safetensors');
    // Only the second epoch ran: one progress line of 63 steps.
    expect(log.match(/63\/63/g)).toHaveLength(1);
    await settings({ epochs: '1' });
  }, 300_000);

  test('a digit drawn with the mouse is classified: 10 probabilities summing to 1', async ({ annotate }) => {
    await drawSeven(page);
    await page.waitForFunction(() => document.querySelectorAll('#draw-bars .bar-row').length === 10, null, { timeout: 30_000 });
    const p = await probabilities('#draw-bars');
    expect(p.length).toBe(10);
    expect(p.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-4);
    expect(await page.locator('#draw-text').textContent()).toMatch(/^Looks like a \d \(p = /);
    expect(await page.locator('#pad-input').isVisible()).toBe(true);
    await shot(annotate, 'draw');

    await page.locator('#pad-clear').click();
    expect(await page.locator('#draw-bars .bar-row').count()).toBe(0);
    expect(await page.locator('#pad-input').isHidden()).toBe(true);
  }, 60_000);

  test('pause holds training at a step, resume goes on, stop ends it early', async () => {
    // 500 steps of 8, a progress update every 25: long enough for the buttons to act mid-epoch.
    await settings({ model: 'mlp', epochs: '1', batchSize: '8', trainLimit: '4000', validation: 'none' });
    await page.locator('#train-button').click();
    await page.waitForSelector('#pause:not([disabled])');
    await page.locator('#pause').click();
    await page.waitForSelector('#resume:not([disabled])', { timeout: 60_000 });
    expect(await page.locator('#train-status').textContent()).toMatch(/^Paused at step \d+\/500 of epoch 1\.$/);
    const step = await page.locator('#live-step').textContent();
    await page.waitForTimeout(500);
    expect(await page.locator('#live-step').textContent(), 'the step while paused').toBe(step);

    await page.locator('#resume').click();
    await page.waitForSelector('#pause:not([disabled])');
    await page.locator('#pause').click();
    await page.waitForSelector('#resume:not([disabled])', { timeout: 60_000 });
    expect(await page.locator('#live-step').textContent()).not.toBe(step);
    await page.locator('#stop').click();
    await idle(120_000);
    await expectNoError();
    expect(await page.locator('#train-status').textContent()).toBe('Stopped.');
    // Stop means now: no test after it.
    expect(await page.locator('#train-progress').textContent()).toBe('Stopped: Evaluate tests the model as it is.');
    expect((await epochFigures(1)).steps).toMatch(/^\d+ of 500 \(stopped\)$/);
    expect(await page.locator('#log').textContent()).toMatch(/Stopped after \d+ of 500 steps\./);
  }, 120_000);

  test("mixed precision on SwiftShader, which has no 'shader-f16': the log says so, and it trains in float32", async () => {
    await settings({ model: 'mlp', precision: 'mixed', epochs: '1', batchSize: '128', trainLimit: '512', validation: 'none' });
    await page.locator('#train-button').click();
    await idle(120_000);
    await expectNoError();
    expect(await page.locator('#train-status').textContent()).toBe('Done.');
    const log = (await page.locator('#log').textContent())!;
    expect(log).toContain('mixed, seed');
    expect(log).toContain("precision 'mixed': this device has no 'shader-f16'");
    expect(log).toContain('so the products compute in float32');
    await settings({ precision: 'float32' });
  }, 180_000);

  test('trains the CNN on 200 images: filters, feature maps, and the profile of a step', async ({ annotate }) => {
    await settings({ model: 'cnn', epochs: '1', batchSize: '32', trainLimit: '200', testLimit: String(TEST_IMAGES) });
    // From Train to the first step: its kernels compile and their variants are timed (the CNN's shapes are new here), each shown.
    await recordTexts(page, ['#train-progress', '#live-step']);
    await page.locator('#train-button').click();
    await page.waitForFunction(() => /^(Compiling kernels|Timing kernel variants)/.test(document.querySelector('#train-progress')!.textContent!), null, { timeout: 30_000 });
    await shot(annotate, 'train', page, 'train-progress');
    await page.waitForFunction(() => document.querySelector('#live-step')!.textContent !== '—', null, { timeout: 240_000 });
    const train = await readTexts(page);
    const stages = expectLively(train['#train-progress'], firstStepAt(train['#live-step']));
    console.info(`from Train to the first step: ${stages.length} stages, ${(firstStepAt(train['#live-step']) / 1000).toFixed(1)} s`);
    expect(stages[0]).toBe('Building cnn…');
    expect(stages.some((t) => /^Compiling kernels \(\d+ of 16 parts done\): layer \d \(\w+\) (forward|backward), batch 32$/.test(t)), stages.join('\n')).toBe(true);
    expect(stages.some((t) => /^Timing kernel variants \(\d+ of \d+ kernel shapes done\): conv2d\.wgsl:\w+ .*, variant \d+ of \d+ \(.+\)$/.test(t)), stages.join('\n')).toBe(true);
    await idle(240_000);
    await expectNoError();
    expect(await page.locator('#chart').getAttribute('aria-label')).toBe('Training chart: loss and accuracy at 7 progress updates');
    expect(await page.locator('[data-testid=confusion] tfoot td.total').textContent()).toBe(String(TEST_IMAGES));

    // 32 filters, then the maps of conv (32), pool (32), conv (64), pool (64).
    const blocks = await page.locator('#inside-view .maps-block').evaluateAll((all) =>
      all.map((b) => ({ title: b.querySelector('h3')!.textContent!, canvases: b.querySelectorAll('canvas').length })),
    );
    expect(blocks).toEqual([
      { title: 'Filters of layer 0 (conv2d): 32 of 3x3', canvases: 32 },
      { title: 'layer 0 (conv2d): 26x26x32', canvases: 32 },
      { title: 'layer 1 (maxPooling2d): 13x13x32', canvases: 32 },
      { title: 'layer 2 (conv2d): 11x11x64', canvases: 64 },
      { title: 'layer 3 (maxPooling2d): 5x5x64', canvases: 64 },
    ]);
    // Another test image redraws them.
    await page.locator('#inside-index').fill('1');
    await page.locator('#inside-show').click();
    await idle(120_000);
    expect(await page.locator('#inside-status').textContent()).toContain('test image 1 (label 2)');
    expect(await page.locator('#inside-view canvas').count()).toBe(224);

    // Chromium here has timestamp queries: a table and a chart of the step's kernels.
    await page.locator('#profile-batch').fill('16');
    await page.locator('#profile-repeats').fill('2');
    await page.locator('#profile-run').click();
    await idle(120_000);
    await expectNoError();
    const rows = await page.locator('#profile-table tbody tr').evaluateAll((all) => all.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent!)));
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.some((row) => row[1] === 'conv2d.wgsl:forward')).toBe(true);
    for (const row of rows.slice(0, -1)) expect(Number(row[3]), `median of ${row[1]}`).toBeGreaterThanOrEqual(0);
    expect(await page.locator('#profile-plot').isVisible()).toBe(true);
    expect(await page.locator('#profile-status').textContent()).toMatch(/kernels of one training step of cnn at batch 16/);

    await shot(annotate, 'train', page, 'train-cnn');
    await shot(annotate, 'results', page, 'results-cnn');
    await shot(annotate, 'inside', page, 'inside-cnn');
    await shot(annotate, 'profile');
    const full = resolve(attachments, 'app-page.png');
    await page.screenshot({ path: full, fullPage: true });
    await annotate('the whole page after training the CNN', { path: full, contentType: 'image/png' });
  }, 420_000);

  test('a saved model loads back with the same predictions; the drawing is classified by it', async ({ annotate }) => {
    await page.locator('#test-index').fill('0');
    await page.locator('#predict').click();
    await idle(120_000);
    const before = await probabilities('#bars');
    await drawSeven(page);
    await page.waitForFunction(() => /to cnn\.$/.test(document.querySelector('#draw-text')!.textContent!), null, { timeout: 60_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#save').click()]);
    expect(download.suggestedFilename()).toBe('cnn.safetensors');
    const file = resolve(attachments, 'app-cnn.safetensors');
    await download.saveAs(file);
    await page.locator('#load-model').setInputFiles(file);
    // Loaded (the page names the model after its file), or refused with a message: either ends the wait.
    await page.waitForFunction(
      () => document.querySelector('#model-name')!.textContent!.startsWith('Model: app-cnn,') || !(document.querySelector('#error') as HTMLElement).hidden,
      null,
      { timeout: 120_000 },
    );
    await expectNoError();
    await idle(120_000);
    // The drawing is the loaded model's now.
    expect(await page.locator('#draw-text').textContent()).toMatch(/^Looks like a \d \(p = [\d.]+\) to app-cnn\.$/);
    expect(await page.locator('#bars .bar-row').count()).toBe(0);
    await page.locator('#predict').click();
    await idle(120_000);
    await expectNoError();
    const after = await probabilities('#bars');
    expect(after.length).toBe(10);
    after.forEach((p, c) => expect(Math.abs(p - before[c]), `class ${c}`).toBeLessThanOrEqual(1e-6));
    await shot(annotate, 'model');
    expect(pageErrors).toEqual([]);
  }, 300_000);

  test('the first look inside a model, in a new page: its kernels compiling, shown until the maps are drawn', async ({ annotate }) => {
    // A new visitor: a device of its own, so nothing compiled or tuned for the model yet.
    const other = await site.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    other.on('pageerror', (error) => errors.push(error.message));
    await other.goto(url());
    await other.getByRole('button', { name: 'Load MNIST' }).click();
    await other.waitForSelector('#data-status .ok', { timeout: 60_000 });
    await other.locator('#load-model').setInputFiles(resolve(attachments, 'app-cnn.safetensors'));
    await other.waitForSelector('#inside-show:not([disabled])', { timeout: 120_000 });
    await recordTexts(other, ['#inside-status']);
    await other.locator('#inside-show').click();
    await other.waitForFunction(() => document.querySelector('#inside-status')!.textContent!.startsWith('Compiling kernels'), null, { timeout: 30_000 });
    await shot(annotate, 'inside', other, 'inside-progress');
    await other.waitForFunction(() => document.querySelector('#inside-status')!.textContent!.includes('the first convolution'), null, { timeout: 120_000 });
    const { '#inside-status': texts } = await readTexts(other);
    const done = texts.find((t) => t.text.includes('the first convolution'))!.at;
    const stages = expectLively(texts, done);
    console.info(`the first look inside: ${stages.length} texts, ${(done / 1000).toFixed(1)} s`);
    expect(stages[0]).toBe('Running app-cnn on test image 0…');
    expect(stages.some((t) => /^Compiling kernels \(\d+ of 16 parts done\): layer \d \(\w+\) (forward|backward), batch 1$/.test(t)), stages.join('\n')).toBe(true);
    expect(await other.locator('#inside-view canvas').count()).toBe(224);
    expect(await other.locator('#error').isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await other.close();
  }, 240_000);

  test('Export to PyTorch downloads the weights in PyTorch layouts with model.py, predict.py and train.py', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-torch').click()]);
    // Named after the model: the loaded file's name.
    const folder = download.suggestedFilename().replace(/\.zip$/, '');
    expect(folder).toBe('app-cnn-torch');
    const files = unzipSync(new Uint8Array(await readFile(await download.path())));
    expect(Object.keys(files).sort()).toEqual(['README.md', 'model.py', 'model.safetensors', 'predict.py', 'train.py'].map((f) => `${folder}/${f}`));
    const { weights } = decodeSafetensors(files[`${folder}/model.safetensors`], 'model.safetensors');
    // The first conv kernel [3, 3, 1, 32] in PyTorch's [out, in, kh, kw].
    expect(weights.find((w) => w.name === '0.weight')!.shape).toEqual([32, 1, 3, 3]);
    await expectNoError();
  }, 60_000);

  test('the benchmark page is linked and built', async () => {
    const link = page.getByTestId('bench').locator('a[href="bench.html"]');
    expect(await link.count()).toBe(1);
    const response = await page.request.get(new URL('bench.html', url()).href);
    expect(response.status()).toBe(200);
  });

  test("without 'timestamp-query' the profile view says why", async ({ annotate }) => {
    const other = await site.browser.newPage({ viewport: { width: 1280, height: 900 } });
    // As an adapter without the feature would report it.
    await other.addInitScript(() => {
      // @webgpu/types declares GPUSupportedFeatures as a type only; the browser has the class.
      const features = (window as unknown as { GPUSupportedFeatures: { prototype: GPUSupportedFeatures } }).GPUSupportedFeatures.prototype;
      const has = features.has;
      features.has = function (this: GPUSupportedFeatures, name: string) {
        return name === 'timestamp-query' ? false : has.call(this, name);
      };
    });
    await other.goto(url());
    await other.waitForFunction(() => document.querySelector('#profile-status')!.textContent!.includes('timestamp-query'), null, { timeout: 30_000 });
    expect(await other.locator('#profile-status').textContent()).toMatch(/has no 'timestamp-query' feature, so the page cannot time kernels on the GPU/);
    expect(await other.locator('#profile-run').isDisabled()).toBe(true);
    await shot(annotate, 'profile', other, 'profile-no-timestamps');
    await other.close();
  }, 60_000);

  test('without WebGPU the page says so, and still loads data and takes drawings', async ({ annotate }) => {
    const other = await site.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    other.on('pageerror', (error) => errors.push(error.message));
    await other.addInitScript(() => {
      delete (Navigator.prototype as { gpu?: unknown }).gpu;
    });
    await other.goto(url());
    const alert = other.locator('#gpu-error');
    await alert.waitFor({ state: 'visible', timeout: 30_000 });
    expect(await alert.textContent()).toBe(
      'WebGPU: this browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+, or Chromium with --enable-unsafe-webgpu.',
    );
    expect(await other.locator('#adapter').textContent()).toBe('WebGPU adapter: none');
    expect(await other.locator('#profile-status').textContent()).toContain('Profiling needs WebGPU');

    await other.getByRole('button', { name: 'Load MNIST' }).click();
    await other.waitForSelector('#data-status .ok', { timeout: 60_000 });
    expect(await other.locator('#train-button').isDisabled()).toBe(true);
    // Loading data does not hide the message.
    expect(await alert.isVisible()).toBe(true);

    await other.locator('#pad').scrollIntoViewIfNeeded();
    const box = (await other.locator('#pad').boundingBox())!;
    await other.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
    await other.mouse.down();
    await other.mouse.move(box.x + box.width / 2, box.y + box.height * 0.8, { steps: 10 });
    await other.mouse.up();
    await other.locator('#pad-input').waitFor({ state: 'visible' });
    expect(await other.locator('#draw-text').textContent()).toBe('Without WebGPU there is no model to classify the drawing.');

    const path = resolve(attachments, 'app-no-webgpu.png');
    await other.screenshot({ path, fullPage: true });
    await annotate('the page without WebGPU', { path, contentType: 'image/png' });
    expect(errors).toEqual([]);
    await other.close();
  }, 90_000);
});
