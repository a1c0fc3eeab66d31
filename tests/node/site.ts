// The built site as the page tests drive it: `vite build` into a folder of its
// own (so that it never races another build of dist/app), `vite preview` of
// that folder on 127.0.0.1 (a secure context, as WebGPU needs), and headless
// Chromium as scripts/chromium-options.ts launches it.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright';
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
