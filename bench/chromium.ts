// Runs the benchmark page (bench.html) in headless Chromium, served by Vite's
// dev server so that TypeScript and `.wgsl?raw` imports work, and returns the figures it hands back.
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { createServer } from 'vite';
import { chromiumLaunchOptions } from '../scripts/chromium-options';
import { TUNING_STORAGE_KEY } from '../src/engine';
import { fileTuningStore } from '../src/node/files';
import type { BenchOptions, BenchResult } from './suite';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function runInChromium(options: BenchOptions, versions: Record<string, string>, log: (line: string) => void): Promise<BenchResult> {
  const server = await createServer({
    configFile: false,
    root,
    logLevel: 'warn',
    clearScreen: false,
    server: {
      // WebGPU needs a secure context: a page served from 127.0.0.1 is one.
      host: '127.0.0.1',
      port: 0,
      // A cross-origin isolated page gets performance.now() to 5 µs rather than 100 µs.
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
    // Its own cache, apart from the app's dev server's.
    cacheDir: 'node_modules/.vite-bench',
    // Bundled before the page loads, so that Vite does not reload it halfway.
    optimizeDeps: { entries: ['bench.html'], include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', 'chart.js'] },
  });
  await server.listen();
  const browser = await chromium.launch({ headless: true, ...chromiumLaunchOptions });
  try {
    const page = await browser.newPage();
    page.on('console', (message) => log(`[page] ${message.text()}`));
    let settle!: { resolve: (result: BenchResult) => void; reject: (error: Error) => void };
    const finished = new Promise<BenchResult>((resolve, reject) => (settle = { resolve, reject }));
    await page.exposeFunction('benchDone', (json: string) => settle.resolve(JSON.parse(json) as BenchResult));
    await page.exposeFunction('benchFailed', (message: string) => settle.reject(new Error(`the benchmark page failed: ${message}`)));
    page.on('crash', () => settle.reject(new Error('the benchmark page crashed')));
    page.on('pageerror', (error) => settle.reject(error));
    // The kernel choices the page makes are kept with Node's (one file, keyed by adapter): the page
    // starts from them in its localStorage, and what it adds goes back, so the next run times nothing.
    const store = fileTuningStore();
    const kept = await store.read().catch(() => null);
    if (kept) await page.addInitScript(([key, text]) => localStorage.getItem(key) ?? localStorage.setItem(key, text), [TUNING_STORAGE_KEY, kept]);
    const url = new URL('bench.html', server.resolvedUrls?.local[0]);
    url.searchParams.set('options', JSON.stringify(options));
    log(`Chromium ${browser.version()} at ${url.origin}`);
    await page.goto(url.href);
    const result = await finished;
    const tuned = await page.evaluate((key) => localStorage.getItem(key), TUNING_STORAGE_KEY);
    if (tuned && tuned !== kept) await store.write(tuned);
    result.environment.runtime = 'chromium';
    result.environment.versions = { ...versions, chromium: browser.version(), ...result.environment.versions };
    return result;
  } finally {
    await browser.close();
    await server.close();
  }
}
