// The built site as the page tests drive it: `vite build` into a folder of its
// own (so that it never races another build of dist/app), `vite preview` of
// that folder on 127.0.0.1 (a secure context, as WebGPU needs), and headless
// Chromium as scripts/chromium-options.ts launches it; and how a test watches
// a page's progress line through a wait; a digit drawn on the training page.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright';
import { expect } from 'vitest';
import { preview } from 'vite';
import { chromiumLaunchOptions } from '../../scripts/chromium-options';
import { repo, sh } from './child';

export { repo };
/** Where the tests keep their screenshots (gitignored). */
export const attachments = resolve(repo, '.vitest-attachments');

export interface BuiltSite {
  browser: Browser;
  /** The address of a file of the site, e.g. `bench.html`. */
  url(path: string): string;
  close(): Promise<void>;
}

export async function buildSite(name: string): Promise<BuiltSite> {
  const folder = await mkdtemp(join(tmpdir(), `${name}-site-`));
  await sh(process.execPath, [resolve(repo, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', folder, '--emptyOutDir', '--logLevel', 'warn'], repo);
  const server = await preview({ root: repo, logLevel: 'warn', build: { outDir: folder }, preview: { host: '127.0.0.1', port: 0 } });
  const browser = await chromium.launch({ headless: true, ...chromiumLaunchOptions });
  await mkdir(attachments, { recursive: true });
  return {
    browser,
    url: (path) => new URL(path, server.resolvedUrls!.local[0]).href,
    async close() {
      await browser.close();
      await server.close();
      await rm(folder, { recursive: true, force: true });
    },
  };
}

/** What the training page's tests do on `page()` (a function: the page is made in beforeAll). */
export function trainingPage(page: () => Page) {
  return {
    /** Waits until no action runs: the Train button is enabled again (with a GPU and data). */
    async idle(timeout: number): Promise<void> {
      await page().waitForSelector('#train-button:not([disabled])', { timeout });
    },
    async expectNoError(): Promise<void> {
      const error = page().locator('#error');
      expect(await error.isHidden(), (await error.textContent()) ?? '').toBe(true);
    },
    /** Fills the training form; fields not given keep their value. */
    async settings(values: Record<string, string | boolean>): Promise<void> {
      for (const [name, value] of Object.entries(values)) {
        const field = page().locator(`#train-form [name=${name}]`);
        if (typeof value === 'boolean') await field.setChecked(value);
        else if ((await field.evaluate((e) => e.tagName)) === 'SELECT') await field.selectOption(value);
        else await field.fill(value);
      }
    },
    /** The probabilities of a bar chart of classes, exactly (from each row's data-probability). */
    probabilities(selector: string): Promise<number[]> {
      return page()
        .locator(`${selector} .bar-row`)
        .evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.probability)));
    },
    /** Pixels of exactly `hex` on the canvas (Chart.js fills its points with their colour). */
    pixelsOf(selector: string, hex: string): Promise<number> {
      return page()
        .locator(selector)
        .evaluate((element, hex) => {
          const canvas = element as HTMLCanvasElement;
          const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
          const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
          let count = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i] === r && data[i + 1] === g && data[i + 2] === b && data[i + 3] === 255) count++;
          return count;
        }, hex);
    },
  };
}

/** Draws a 7 on the training page's pad with the mouse: the top bar, then the slanted stroke down. */
export async function drawSeven(page: Page): Promise<void> {
  const pad = page.locator('#pad');
  await pad.scrollIntoViewIfNeeded();
  const box = (await pad.boundingBox())!;
  const at = (x: number, y: number) => [box.x + x * box.width, box.y + y * box.height] as const;
  await page.mouse.move(...at(0.25, 0.2));
  await page.mouse.down();
  await page.mouse.move(...at(0.72, 0.2), { steps: 12 });
  await page.mouse.move(...at(0.45, 0.85), { steps: 16 });
  await page.mouse.up();
}

/** Each text the elements of `selectors` show from now on, with when (ms from now, on the page's clock); read with `readTexts`. */
export async function recordTexts(on: Page, selectors: string[]): Promise<void> {
  await on.evaluate((all) => {
    const start = performance.now();
    const seen: Record<string, { at: number; text: string }[]> = {};
    for (const selector of all) {
      const element = document.querySelector(selector)!;
      const texts: { at: number; text: string }[] = (seen[selector] = [{ at: 0, text: element.textContent ?? '' }]);
      const note = () => {
        const text = element.textContent ?? '';
        if (texts.at(-1)!.text !== text) texts.push({ at: performance.now() - start, text });
      };
      new MutationObserver(note).observe(element, { childList: true, characterData: true, subtree: true, attributes: true });
    }
    (window as unknown as { recorded: typeof seen }).recorded = seen;
  }, selectors);
}

export async function readTexts(on: Page): Promise<Record<string, { at: number; text: string }[]>> {
  return on.evaluate(() => (window as unknown as { recorded: Record<string, { at: number; text: string }[]> }).recorded);
}

/**
 * A wait shown as it should be: a progress line (texts, from recordTexts)
 * within a second of the click, then a change at least every 3 s until
 * `until` (ms); returns the stages it named, without their clocks.
 */
export function expectLively(texts: { at: number; text: string }[], until: number): string[] {
  // The first text is what the element held before.
  const shown = texts.slice(1).filter((t) => t.text.trim() !== '' && t.at <= until);
  expect(shown.length, JSON.stringify(texts)).toBeGreaterThan(0);
  expect(shown[0].at, `the first progress line: ${shown[0].text}`).toBeLessThan(1000);
  const times = [...shown.map((t) => t.at), until];
  const gaps = times.slice(1).map((at, i) => at - times[i]);
  expect(Math.max(...gaps), `the longest time the line did not change, of ${JSON.stringify(texts.filter((t) => t.at <= until))}`).toBeLessThan(3000);
  return [...new Set(shown.map((t) => t.text.replace(/ · \d+:\d\d$/, '')))];
}
