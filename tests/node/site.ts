// The built site as the page tests drive it: `vite build` into a folder of its
// own (so that it never races another build of dist/app), `vite preview` of
// that folder on 127.0.0.1 (a secure context, as WebGPU needs), and headless
// Chromium as scripts/chromium-options.ts launches it; and how a test watches
// a page's progress line through a wait.
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
