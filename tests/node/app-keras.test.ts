// The training page with Keras files and Keras habits, on the built site as
// app.test.ts drives it: a Keras .keras and a legacy .h5 model opened (the
// format from the bytes), a drawn digit classified by each as the engine in
// Node classifies the same input, every view, fine-tuning and saving; then the
// autoencoder trained with a schedule, a validation split and early stopping.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { unzipSync } from 'fflate';
import type { Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { attachments, buildSite, drawSeven, expectLively, readTexts, recordTexts, repo, trainingPage, type BuiltSite } from './site';
import { COLOURS } from '../../src/app/chart';
import { mnistInput } from '../../src/app/digitPreprocess';
import { modelFromFile, readAnyModelFile, readKerasModel } from '../../src/engine';
import { testGpu } from '../helpers';

const TEST_IMAGES = 500;
const fixture = (name: string) => resolve(repo, 'tests/fixtures/keras', name);

let site: BuiltSite;
let page: Page;
const pageErrors: string[] = [];
const { idle, expectNoError, settings, probabilities, pixelsOf } = trainingPage(() => page);

beforeAll(async () => {
  site = await buildSite('app-keras');
  page = await site.browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.on('pageerror', (error) => pageErrors.push(error.message));
}, 240_000);
afterAll(() => site?.close());

/** A screenshot of one view (by its data-testid), kept as the test's attachment. */
async function shot(annotate: TestContext['annotate'], view: string, name: string): Promise<void> {
  const path = resolve(attachments, `app-${name}.png`);
  await page.getByTestId(view).screenshot({ path });
  await annotate(`the ${view} view (${name})`, { path, contentType: 'image/png' });
}

/** Opens a model file on the page, as the file input takes it; waits until it is open (or refused). */
async function open(file: { name: string; buffer: Buffer }): Promise<void> {
  await page.locator('#load-model').setInputFiles({ ...file, mimeType: 'application/octet-stream' });
  const name = file.name.replace(/\.\w+$/, '');
  await page.waitForFunction(
    (name) => document.querySelector('#model-name')!.textContent!.startsWith(`Model: ${name},`) || !(document.querySelector('#error') as HTMLElement).hidden,
    name,
    { timeout: 120_000 },
  );
  await expectNoError();
  await idle(120_000);
}

/** The drawing's probabilities as the engine in Node gives them for the model file `bytes`: the pad's ink made MNIST's input as the page makes it. */
async function expectedForDrawing(bytes: Uint8Array): Promise<Float32Array> {
  const { values, width, height } = await page.locator('#pad').evaluate((element) => {
    const canvas = element as HTMLCanvasElement;
    const rgba = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    return { values: Array.from({ length: canvas.width * canvas.height }, (_, i) => rgba[4 * i + 3] / 255), width: canvas.width, height: canvas.height };
  });
  const model = await modelFromFile(await readAnyModelFile(bytes, 'fixture'), { gpu: await testGpu() });
  const p = await model.predict(mnistInput(values, width, height)!);
  model.destroy();
  return p;
}

const argmax = (p: ArrayLike<number>) => Array.from(p).indexOf(Math.max(...Array.from(p)));

describe.sequential('the training page with Keras files and Keras habits', () => {
  test('opens a Keras 3 .keras file: a drawn 7 is classified by it as the engine classifies it', async ({ annotate }) => {
    await page.goto(site.url(''));
    await page.getByRole('button', { name: 'Load MNIST' }).click();
    await page.waitForSelector('#data-status .ok', { timeout: 60_000 });
    await drawSeven(page);
    const bytes = await readFile(fixture('mnist-keras3.keras'));
    // The wait shows its progress: reading the file (the Keras code and h5wasm load now), then the model's set-up.
    await recordTexts(page, ['#model-status', '#model-name']);
    await open({ name: 'mnist-keras3.keras', buffer: bytes });
    const texts = await readTexts(page);
    const opened = texts['#model-name'].find((t) => t.text.startsWith('Model: mnist-keras3,'))!.at;
    expect(expectLively(texts['#model-status'], opened)[0]).toBe('Opening mnist-keras3.keras…');
    expect(await page.locator('#model-name').textContent()).toBe('Model: mnist-keras3, 6,810 parameters, from a Keras 3.1.1 .keras file.');

    // The drawing was there before the model: opening it classifies the drawing.
    await page.waitForFunction(() => /to mnist-keras3\.$/.test(document.querySelector('#draw-text')!.textContent!), null, { timeout: 60_000 });
    const shown = await probabilities('#draw-bars');
    const expected = await expectedForDrawing(bytes);
    shown.forEach((p, c) => expect(Math.abs(p - expected[c]), `class ${c}`).toBeLessThanOrEqual(1e-5));
    expect(argmax(expected), `the engine's probabilities ${Array.from(expected)}`).toBe(7);
    expect(await page.locator('#draw-text').textContent()).toMatch(/^Looks like a 7 \(p = [\d.]+\) to mnist-keras3\.$/);
    await shot(annotate, 'draw', 'draw-keras');
    expect(pageErrors).toEqual([]);
  }, 300_000);

  test('every view works with the opened model: evaluate, inside, save in both formats, export to PyTorch, fine-tune', async () => {
    await settings({ testLimit: String(TEST_IMAGES) });
    await page.locator('#evaluate').click();
    await idle(180_000);
    await expectNoError();
    const result = (await page.locator('#test-result').textContent())!;
    expect(result).toMatch(new RegExp(`^mnist-keras3: test loss \\d\\.\\d{4} - test accuracy \\d\\.\\d{4} \\(${TEST_IMAGES} test images\\)$`));
    // mnist.py gives it 0.9302 on all 10,000.
    expect(Number(/test accuracy ([\d.]+)/.exec(result)![1])).toBeGreaterThan(0.85);
    expect(await page.locator('[data-testid=confusion] tfoot td.total').textContent()).toBe(String(TEST_IMAGES));
    expect(await page.locator('#inside-view .maps-block h3').first().textContent()).toBe('Filters of layer 0 (conv2d): 4 of 3x3');

    const [safetensors] = await Promise.all([page.waitForEvent('download'), page.locator('#save').click()]);
    expect(safetensors.suggestedFilename()).toBe('mnist-keras3.safetensors');
    const [keras] = await Promise.all([page.waitForEvent('download'), page.locator('#save-keras').click()]);
    expect(keras.suggestedFilename()).toBe('mnist-keras3.keras');
    // The weights come back bit for bit, through our format and through Keras'.
    const original = await readKerasModel(new Uint8Array(await readFile(fixture('mnist-keras3.keras'))), 'fixture');
    for (const download of [safetensors, keras]) {
      const saved = await readAnyModelFile(new Uint8Array(await readFile((await download.path())!)), download.suggestedFilename());
      expect(saved.layers).toEqual(original.layers);
      saved.weights.forEach((w, i) => expect(w.values, `${download.suggestedFilename()}: ${w.name}`).toEqual(original.weights[i].values));
    }
    expect(await page.locator('#model-status').textContent()).toBe('Saved mnist-keras3.keras.');
    const [torch] = await Promise.all([page.waitForEvent('download'), page.locator('#export-torch').click()]);
    expect(Object.keys(unzipSync(new Uint8Array(await readFile((await torch.path())!)))).sort()).toEqual(
      ['README.md', 'model.py', 'model.safetensors', 'predict.py', 'train.py'].map((f) => `mnist-keras3-torch/${f}`),
    );

    // Fine-tuning: Train with "the opened model" starts from the file's weights.
    expect(await page.locator('#train-form [name=model] option[value=opened]').textContent()).toBe('mnist-keras3 (opened, 6,810 params)');
    await settings({ model: 'opened', epochs: '1', batchSize: '50', trainLimit: '1000', seed: '1', validation: 'none' });
    await page.locator('#train-button').click();
    await idle(240_000);
    await expectNoError();
    expect(await page.locator('#log').textContent()).toContain('mnist-keras3: 1,000 training images, batch size 50, rmsprop (learning rate 0.001), float32, seed 1');
    expect(await page.locator('#train-progress').textContent()).toBe(`Done: an epoch, then a test on ${TEST_IMAGES} test images.`);
    // Still good after an epoch on 1,000 images at the tutorial's rate.
    expect(Number(/test accuracy ([\d.]+)/.exec((await page.locator('#test-result').textContent())!)![1])).toBeGreaterThan(0.85);
    expect(pageErrors).toEqual([]);
  }, 420_000);

  test('opens a legacy .h5 (Keras 2) by its bytes, even named .keras; the drawing is its to classify', async () => {
    const bytes = await readFile(fixture('mnist-keras2.h5'));
    await open({ name: 'renamed-h5.keras', buffer: bytes });
    expect(await page.locator('#model-name').textContent()).toBe('Model: renamed-h5, 25,450 parameters, from a Keras 2.4.0 .h5 file.');
    await page.waitForFunction(() => /to renamed-h5\.$/.test(document.querySelector('#draw-text')!.textContent!), null, { timeout: 60_000 });
    const shown = await probabilities('#draw-bars');
    const expected = await expectedForDrawing(bytes);
    shown.forEach((p, c) => expect(Math.abs(p - expected[c]), `class ${c}`).toBeLessThanOrEqual(1e-5));
    expect(argmax(shown)).toBe(argmax(expected));
    await page.locator('#inside-show').click();
    await idle(60_000);
    expect(await page.locator('#inside-status').textContent()).toContain('renamed-h5 has no convolution layers');

    // A file that is no model is refused, naming it.
    await page.locator('#load-model').setInputFiles({ name: 'notes.keras', mimeType: 'text/plain', buffer: Buffer.from('not a model') });
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await page.locator('#error').textContent()).toMatch(/^Opening the model: notes\.keras: /);
    expect(await page.locator('#model-name').textContent()).toMatch(/^Model: renamed-h5,/);
  }, 240_000);

  test('trains the autoencoder with a schedule, a validation split and early stopping: its reconstructions', async ({ annotate }) => {
    await settings({ model: 'autoencoder' });
    // The Keras blog's recipe.
    expect(await page.locator('#train-form [name=optimizer]').inputValue()).toBe('adam');
    expect(await page.locator('#train-form [name=batchSize]').inputValue()).toBe('256');
    await settings({ epochs: '3', batchSize: '100', trainLimit: '1000', testLimit: '200', seed: '1', schedule: 'exponential', validation: 'split', patience: '0' });
    await page.locator('#train-button').click();
    await idle(300_000);
    await expectNoError();
    // 900 images train (9 steps of 100), the last 100 validate.
    const log = (await page.locator('#log').textContent())!;
    expect(log).toContain('autoencoder: 1,000 training images, validating on the last 10% of them, batch size 100, adam (learning rate 0.001, decayed x0.9 each epoch), float32, seed 1');
    const rows = await page.locator('#epochs tbody tr').evaluateAll((all) =>
      all.map((tr) => Object.fromEntries(Array.from(tr.querySelectorAll('td')).map((td) => [(td as HTMLElement).dataset.figure!, td.textContent!]))),
    );
    expect(rows.length).toBeGreaterThan(0);
    rows.forEach((row, epoch) => {
      expect(row.steps).toBe('9');
      for (const name of ['mse-mean', 'mse-keras', 'loss-mean', 'val-mse', 'val-loss']) expect(row[name], `epoch ${epoch + 1}'s ${name}`).toMatch(/^\d\.\d{4}$/);
      // Keras' ExponentialDecay at the epoch's end: 0.001 * 0.9^(steps / 9).
      expect(Math.abs(Number(row['learning-rate']) / (0.001 * 0.9 ** (epoch + 1)) - 1), `epoch ${epoch + 1}'s rate ${row['learning-rate']}`).toBeLessThan(0.02);
    });
    // Why training ended, and the best epoch's weights restored.
    const losses = rows.map((row) => Number(row['val-loss']));
    const best = losses.indexOf(Math.min(...losses));
    const ended = rows.length < 3 ? `early stopping after epoch ${rows.length}: val_loss had not improved for 0 epochs` : 'ran all 3 epochs';
    const why = `${ended}; restored the weights of epoch ${best + 1}, the best val_loss (${rows[best]['val-loss']})`;
    expect(await page.locator('#train-progress').textContent()).toBe(`Done: ${why}, then a test on 200 test images.`);
    expect(log).toContain(`${why[0].toUpperCase()}${why.slice(1)}.`);
    // The chart draws the mse and History's val_loss and val_mse.
    expect(await page.locator('#chart').getAttribute('aria-label')).toMatch(/^Training chart: loss and mse at \d+ progress updates$/);
    expect(await pixelsOf('#chart', COLOURS.metric), 'pixels of the mse series').toBeGreaterThan(20);

    expect(await page.locator('#test-result').textContent()).toMatch(/^autoencoder: test loss \d\.\d{4} - test mse \d\.\d{4} \(200 test images\)$/);
    expect(await page.locator('#reconstructions figure').count()).toBe(24);
    expect(await page.locator('#reconstructions figure canvas').count()).toBe(48);
    expect(await page.locator('#gallery-box').isHidden()).toBe(true);
    expect(await page.locator('#prediction-text').textContent()).toMatch(/^Test image 0 reconstructed by autoencoder \(below\): mse \d\.\d{4}\.$/);
    expect(await page.locator('#draw-text').textContent()).toMatch(/^autoencoder's reconstruction of the drawing \(below\): mse \d\.\d{4}\.$/);
    expect(await page.locator('#draw-bars canvas').count()).toBe(1);
    await shot(annotate, 'train', 'train-autoencoder');
    await shot(annotate, 'results', 'results-autoencoder');
    expect(pageErrors).toEqual([]);
  }, 420_000);
});
