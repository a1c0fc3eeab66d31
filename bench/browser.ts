// The benchmark page's script: runs the suite on the browser's WebGPU and hands
// the figures to the Node driver (bench/chromium.ts) through the functions it exposes.
import { createGpu } from '../src/engine';
import { runSuite, type BenchOptions } from './suite';

const driver = window as unknown as { benchDone(json: string): Promise<void>; benchFailed(message: string): Promise<void> };

try {
  const options = JSON.parse(new URLSearchParams(location.search).get('options') ?? 'null') as BenchOptions | null;
  if (!options) throw new Error('no ?options= in the page address; run it with `npm run bench -- --browser`');
  const page = { 'user agent': navigator.userAgent, 'cross-origin isolated (5 µs timers)': String(crossOriginIsolated) };
  const result = await runSuite(await createGpu(), options, 'chromium', page, (line) => console.log(line));
  await driver.benchDone(JSON.stringify(result));
} catch (error) {
  await driver.benchFailed(error instanceof Error ? (error.stack ?? error.message) : String(error));
}
