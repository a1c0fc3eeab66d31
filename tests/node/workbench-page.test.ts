// workbench.html as a person uses it on the built site (vite build, vite preview,
// headless Chromium on SwiftShader): inline compile errors, check, time, share, train, and the convolution demo.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { attachments, buildSite, expectLively, readTexts, recordTexts, repo, type BuiltSite } from './site';
import { conv2dForward } from '../../src/reference/conv2d';
import { maxPool2dForward } from '../../src/reference/maxpool2d';
import { expectClose, F32 } from '../helpers';

const STORE = 'y[m * params.C_out + first + j] = activate(cells[r][j / 4u][j % 4u], ACTIVATION);';
const SMALL = { N: 2, H: 9, W: 11, C_in: 3, C_out: 5, S: 2, same: 1 };

let site: BuiltSite;
let conv2d: string;

beforeAll(async () => {
  conv2d = await readFile(resolve(repo, 'src/shaders/conv2d.wgsl'), 'utf8');
  site = await buildSite('workbench');
}, 240_000);
afterAll(() => site?.close());

async function open(hash = ''): Promise<{ page: Page; errors: string[] }> {
  const page = await site.browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(site.url(`workbench.html${hash}`));
  await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
  return { page, errors };
}

/** Replaces the editor's text as typing a paste would. */
async function type(page: Page, text: string): Promise<void> {
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
}

/** The editor's whole text, as its Download button saves it (the DOM holds only the lines in view). */
async function editorText(page: Page): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').click()]);
  return readFile((await download.path())!, 'utf8');
}

async function setShape(page: Page, shape: Record<string, number>): Promise<void> {
  for (const [letter, value] of Object.entries(shape)) await page.locator(`input[data-letter="${letter}"]`).fill(String(value));
  await page.locator(`input[data-letter="N"]`).dispatchEvent('change');
}

function edited(from: string, to: string): string {
  expect(conv2d).toContain(from);
  return conv2d.replace(from, to);
}

test('workbench.html: inline errors, check, time, share and train with conv2d:forward', { timeout: 300_000 }, async ({ annotate }) => {
  const { page, errors } = await open();
  expect(await page.locator('#kernel').inputValue()).toBe('conv2d.wgsl:forward');
  expect(await editorText(page)).toBe(conv2d);
  expect(await page.getByTestId('features').textContent()).toMatch(/timestamp-query: yes/);
  // The constants found by reflection, with the built-in dispatch's values.
  expect(await page.locator('input[data-constant=WORKGROUP_SIZE]').inputValue()).toBe('64');
  await setShape(page, SMALL);

  // A syntax error on one line is marked on that line.
  const broken = 'override WORKGROUP_SIZE: u32 = ;';
  await type(page, edited('override WORKGROUP_SIZE: u32;', broken));
  const line = conv2d.split('\n').findIndex((l) => l === 'override WORKGROUP_SIZE: u32;') + 1;
  const marked = page.locator('.cm-line', { has: page.locator('.cm-lintRange-error') });
  // The cursor to the broken line, which scrolls it into view (the editor draws only the lines in view).
  await page.keyboard.press('Control+Home');
  for (let i = 1; i < line; i++) await page.keyboard.press('ArrowDown');
  await marked.first().waitFor({ timeout: 30_000 });
  expect(await marked.count()).toBe(1);
  expect(await marked.textContent()).toBe(broken);
  expect(await page.getByTestId('compile-messages').textContent()).toContain(`edited.wgsl:${line}:`);
  expect(await page.locator('.cm-lint-marker-error').count()).toBeGreaterThan(0);
  await page.getByTestId('editor-view').screenshot({ path: join(attachments, 'workbench-editor.png') });
  await annotate('a syntax error marked inline', { path: join(attachments, 'workbench-editor.png'), contentType: 'image/png' });

  // A kernel that compiles but is wrong fails the check, with its first mismatches.
  const wrong = edited(STORE, STORE.replace('activate(cells', 'activate(0.5 * cells'));
  await type(page, wrong);
  await page.waitForSelector('[data-testid=compile-status][data-errors="0"]', { timeout: 30_000 });
  await page.getByTestId('check').click();
  await page.getByTestId('check-verdict').waitFor({ timeout: 60_000 });
  expect(await page.getByTestId('check-verdict').textContent()).toBe('Does not match the reference.');
  expect(await page.getByTestId('mismatches').locator('li').count()).toBe(8);
  expect(await page.getByTestId('mismatches').locator('li').first().textContent()).toMatch(/^\[0, 0, 0, 0\] got -?[\d.e-]+, expected -?[\d.e-]+$/);
  const rows = await page.getByTestId('check-result').locator('tr').allTextContents();
  expect(rows[1]).toMatch(/^built-in.*0 of 300$/);
  expect(rows[2]).toMatch(/^edited.*300 of 300$/);
  await page.getByTestId('check-view').screenshot({ path: join(attachments, 'workbench-check.png') });
  await annotate('a wrong kernel fails the check', { path: join(attachments, 'workbench-check.png'), contentType: 'image/png' });

  // A changed override constant re-runs the check and the timing by itself.
  const workgroupSize = page.locator('input[data-constant=WORKGROUP_SIZE]');
  await workgroupSize.fill('32');
  await workgroupSize.dispatchEvent('change');
  await page.getByTestId('timing-table').waitFor({ timeout: 60_000 });
  await page.waitForSelector('[data-testid=check]:not([disabled])', { timeout: 60_000 });
  expect(await page.getByTestId('check-verdict').textContent()).not.toBe('Matches the reference.');

  // Share: the address restores the source, shape and constants.
  await page.getByTestId('share').click();
  await page.waitForFunction(() => location.hash.includes('source='));
  const shared = page.url();
  const restored = await open(new URL(shared).hash);
  expect(await editorText(restored.page)).toBe(wrong);
  expect(await restored.page.locator('input[data-letter=W]').inputValue()).toBe('11');
  expect(await restored.page.locator('input[data-constant=WORKGROUP_SIZE]').inputValue()).toBe('32');
  expect(restored.errors).toEqual([]);
  await restored.page.close();

  // The original passes and is timed.
  await page.locator('#reset').click();
  expect(await editorText(page)).toBe(conv2d);
  await page.getByTestId('check').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=check-verdict]')?.textContent === 'Matches the reference.', undefined, { timeout: 60_000 });
  await page.getByTestId('time').click();
  const timing = page.getByTestId('timing-table');
  await timing.waitFor({ timeout: 60_000 });
  const cells = await timing.locator('tr').nth(2).locator('td').allTextContents();
  expect(cells[0]).toBe('edited');
  expect(Number(cells[1])).toBeGreaterThan(0);
  // Four significant digits at most: 640.5, not 640.5293.
  for (const ms of cells.slice(1, 4)) expect(ms.replace(/^[0.]+/, '').replace('.', '').length, ms).toBeLessThanOrEqual(4);
  expect(Number(cells[4])).toBeGreaterThan(0);
  await page.getByTestId('time-view').screenshot({ path: join(attachments, 'workbench-time.png') });
  await annotate('the built-in kernel checked and timed', { path: join(attachments, 'workbench-time.png'), contentType: 'image/png' });

  // Train the dense model a few steps with matmul:forward's own source as the edit: from the same seed, the same losses.
  await page.locator('#kernel').selectOption('matmul.wgsl:forward');
  await page.locator('#train-model').selectOption('mlp');
  await page.locator('#train-images').fill('128');
  await page.locator('#train-batch').fill('32');
  // From Train to the first step: a progress line within a second, changing every few seconds.
  await recordTexts(page, ['[data-testid=train-status]']);
  await page.getByTestId('train').click();
  await page.waitForFunction(() => /: (compiling kernels|timing kernel variants) /.test(document.querySelector('[data-testid=train-status]')!.textContent!), undefined, { timeout: 30_000 });
  await page.getByTestId('train-view').screenshot({ path: join(attachments, 'workbench-train-progress.png') });
  await annotate('training: the progress line', { path: join(attachments, 'workbench-train-progress.png'), contentType: 'image/png' });
  await page.waitForFunction(() => / step 1 of 4, /.test(document.querySelector('[data-testid=train-status]')!.textContent!), undefined, { timeout: 120_000 });
  const { '[data-testid=train-status]': texts } = await readTexts(page);
  const firstStep = texts.find((t) => / step 1 of 4, /.test(t.text))!.at;
  const stages = expectLively(texts, firstStep);
  console.info(`workbench, from Train to the first step: ${(firstStep / 1000).toFixed(1)} s, ${stages.length} texts:\n${stages.join('\n')}`);
  expect(stages.some((t) => /^Training mlp on 128 images with the built-in kernel: compiling kernels \(\d+ of 8 parts done\)/.test(t)), stages.join('\n')).toBe(true);
  await page.waitForFunction(() => document.querySelector('[data-testid=train-status]')?.textContent?.startsWith('final running loss'), undefined, { timeout: 120_000 });
  const [, builtInLoss, editedLoss] = /built-in ([\d.]+), edited ([\d.]+)/.exec((await page.getByTestId('train-status').textContent())!)!;
  expect(Number(builtInLoss)).toBeGreaterThan(0);
  expect(editedLoss).toBe(builtInLoss);
  await page.getByTestId('train-view').screenshot({ path: join(attachments, 'workbench-train.png') });
  await annotate('training with the edited kernel', { path: join(attachments, 'workbench-train.png'), contentType: 'image/png' });
  await page.screenshot({ path: join(attachments, 'workbench-page.png'), fullPage: true });
  expect(errors).toEqual([]);
  await page.close();
});

test("workbench.html: the convolution demo's maps equal the CPU reference", { timeout: 180_000 }, async ({ annotate }) => {
  const { page, errors } = await open();
  await page.locator('#demo-digit').fill('7');
  await page.locator('#demo-preset').selectOption('vertical edges (Sobel)');
  await page.getByTestId('demo-run').click();
  await page.waitForSelector('[data-testid=demo-pooled][data-values]', { timeout: 90_000 });
  const read = (id: string, what = 'values') => page.getByTestId(id).evaluate((canvas, key) => JSON.parse((canvas as HTMLElement).dataset[key]!), what) as Promise<number[]>;
  const image = await read('demo-image');
  const kernel = await read('demo-image', 'kernel');
  expect(kernel).toEqual([-1, 0, 1, -2, 0, 2, -1, 0, 1]);
  expect(image).toHaveLength(784);
  expect(Math.max(...image)).toBeGreaterThan(0.5);
  const feature = conv2dForward(image, kernel, { N: 1, H: 28, W: 28, C_in: 1, KH: 3, KW: 3, C_out: 1, strides: [1, 1], padding: 'valid' });
  const pooled = maxPool2dForward(feature, { N: 1, H: 26, W: 26, C: 1, PH: 2, PW: 2, SY: 2, SX: 2 }).y;
  expectClose('feature map', await read('demo-feature'), feature, F32);
  expectClose('pooled map', await read('demo-pooled'), pooled, F32);
  expect(await page.getByTestId('demo-status').textContent()).toMatch(/^test image 7 \(label \d\)/);
  await page.getByTestId('demo-view').screenshot({ path: join(attachments, 'workbench-demo.png') });
  await annotate('the convolution demo', { path: join(attachments, 'workbench-demo.png'), contentType: 'image/png' });
  expect(errors).toEqual([]);
  await page.close();
});

test('workbench.html: the undo history starts with the loaded source, and an empty source is refused', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  expect(await editorText(page)).toBe(conv2d);
  // Undo past the start: the source stays.
  await page.locator('.cm-content').click();
  for (let i = 0; i < 3; i++) await page.keyboard.press('Control+z');
  expect(await editorText(page)).toBe(conv2d);

  // Another kernel starts a history of its own.
  await page.locator('#kernel').selectOption('softmax.wgsl:forward');
  const softmax = await editorText(page);
  expect(softmax).toContain('fn forward');
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+z');
  expect(await editorText(page)).toBe(softmax);

  // Emptied, it says so, and Check refuses it; undo brings the source back.
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.waitForFunction(() => document.querySelector('[data-testid=compile-status]')?.textContent?.startsWith('empty'), undefined, { timeout: 30_000 });
  await page.getByTestId('check').click();
  await page.locator('#error').waitFor({ state: 'visible', timeout: 30_000 });
  expect(await page.locator('#error').textContent()).toBe('the editor is empty: write a kernel, or Reset to the built-in one');
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+z');
  expect(await editorText(page)).toBe(softmax);
  expect(errors).toEqual([]);
  await page.close();
});

test('workbench.html: a shape past the memory ceiling is refused as it is typed and by Check, before anything is allocated', { timeout: 180_000 }, async () => {
  const { page, errors } = await open();
  const error = page.locator('#error');
  const refusal =
    'conv2d.wgsl:forward at N=1000000,H=9,W=11,C_in=3,KH=3,KW=3,C_out=5,S=2,same=1: its float64 inputs and reference would take ' +
    "8,376,001,120 bytes (7988.0 MiB) of memory, more than the workbench's 1,073,741,824 bytes (1024.0 MiB)";
  await setShape(page, { ...SMALL, N: 1_000_000 });
  await page.waitForFunction((text) => document.querySelector('#error')?.textContent === text, refusal, { timeout: 10_000 });
  expect(await error.isVisible()).toBe(true);
  // Check refuses it too, at once: 8 GB of inputs would take minutes to draw.
  const started = Date.now();
  await page.getByTestId('check').click();
  await page.waitForSelector('[data-testid=check]:not([disabled])', { timeout: 30_000 });
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(await error.textContent()).toBe(refusal);
  // A shape that fits clears the message, and checks.
  await setShape(page, SMALL);
  expect(await error.isHidden()).toBe(true);
  await page.getByTestId('check').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=check-verdict]')?.textContent === 'Matches the reference.', undefined, { timeout: 60_000 });
  expect(errors).toEqual([]);
  await page.close();
});

// Last in the file: the kernel that never ends keeps SwiftShader's thread busy until the browser closes.
test('workbench.html: a kernel past the time limit is given up on; the page goes on with a new device', { timeout: 300_000 }, async () => {
  const { page, errors } = await open();
  await setShape(page, SMALL);
  const verdict = () => page.getByTestId('check-verdict').textContent();
  const checked = async (timeout: number) => {
    await page.getByTestId('check').click();
    await page.waitForSelector('[data-testid=check]:not([disabled])', { timeout });
  };
  const error = page.locator('#error');
  // The built-in kernel compiled on this page's device, so that the limit measures the edited one.
  await checked(120_000);
  expect(await verdict()).toBe('Matches the reference.');

  const entry = 'fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) group: vec3u) {\n';
  const stopped = `checking conv2d.wgsl:forward at N=2,H=9,W=11,C_in=3,KH=3,KW=3,C_out=5,S=2,same=1: the edited kernel (edited.wgsl) did not finish in 5 s`;
  // Slow: one invocation adds 1 to y[0] 2 x 10^8 times (about 20 s on SwiftShader: well past the limit on a quicker host too).
  await page.getByTestId('time-limit').fill('5');
  await type(page, edited(entry, `${entry}  if (id.x == 0u) {\n    for (var i = 0u; i < 200000000u + params.N; i++) { y[0] = y[0] + 1.0; }\n  }\n`));
  await page.waitForSelector('[data-testid=compile-status][data-errors="0"]', { timeout: 30_000 });
  const started = Date.now();
  await checked(60_000);
  expect(Date.now() - started).toBeLessThan(30_000);
  expect(await error.textContent()).toBe(`${stopped}: its device was destroyed, and the next run gets a new one.`);

  // The next check runs on a new device, once SwiftShader has finished the slow kernel.
  await page.getByTestId('time-limit').fill('120');
  await page.locator('#reset').click();
  await checked(150_000);
  expect(await error.isHidden()).toBe(true);
  expect(await verdict()).toBe('Matches the reference.');

  // A loop that never ends: its only way out is a break it never reaches (params.N is 2).
  await page.getByTestId('time-limit').fill('5');
  await type(page, edited(entry, `${entry}  loop {\n    if (params.N == 12345u) { break; }\n    y[0] = y[0] + 1.0;\n  }\n`));
  await page.waitForSelector('[data-testid=compile-status][data-errors="0"]', { timeout: 30_000 });
  await checked(60_000);
  expect(await error.textContent()).toBe(`${stopped}: its device was destroyed, and the next run gets a new one.`);
  // SwiftShader cannot stop the kernel, and it holds Chromium's GPU process, so the page is no longer
  // drawn and Playwright's click, which waits for a frame, waits for ever. The page's script still answers
  // a click: no new device comes, and it says why; the edit is kept.
  await page.getByTestId('check').dispatchEvent('click');
  await page.waitForSelector('[data-testid=check]:not([disabled])', { timeout: 60_000 });
  expect(await error.textContent()).toMatch(/^a new device did not finish in 5 s: the GPU is still running the kernel given up on\. .*SwiftShader/);
  const [saved] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').dispatchEvent('click')]);
  expect(await readFile((await saved.path())!, 'utf8')).toContain('if (params.N == 12345u) { break; }');
  expect(errors).toEqual([]);
  await page.close();
});
