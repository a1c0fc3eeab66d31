// bench.html's script: runs the suite of `npm run bench` on this browser's WebGPU
// with the options from its form, or from ?options= when `npm run bench -- --browser` drives it.
import '../src/app/style.css';
import './page.css';
import type { Chart } from 'chart.js';
import { byId, download, showErrorIn } from '../src/app/dom';
import { createGpu, describeAdapter, timestampRoundingMs, type Gpu } from '../src/engine';
import { comparisonChart, kernelChart } from './charts';
import { reportBlocks, type Block } from './report';
import { DEFAULT_BATCHES, parseBenchOptions, runSuite, type BenchOptions, type BenchResult } from './suite';

/** What bench/chromium.ts exposes to the page it drives, to get the figures back. */
interface Driver {
  benchDone(json: string): Promise<void>;
  benchFailed(message: string): Promise<void>;
}
const driver = window as unknown as Partial<Driver>;

const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => document.querySelector(`[data-testid="${id}"]`) as T;

const ui = {
  error: byId('error'),
  adapter: byId('adapter'),
  browser: byId('browser'),
  timestamps: byId('timestamps'),
  timers: byId('timers'),
  form: byId<HTMLFormElement>('options'),
  run: byId<HTMLButtonElement>('run'),
  progress: byId('progress'),
  results: byId('results'),
  json: byTestId<HTMLButtonElement>('bench-json'),
  comparisonChart: byId<HTMLCanvasElement>('comparison-chart'),
  kernelCharts: byId('kernel-charts'),
  report: byTestId('bench-table'),
};
const batchesInput = () => ui.form.elements.namedItem('batches') as HTMLInputElement;

const state: { gpu?: Gpu; result?: BenchResult; charts: Chart[] } = { charts: [] };

/** Why the PyTorch column is empty here. */
const NO_PYTHON = 'not available in a browser page: PyTorch runs as a Python process beside `npm run bench` in Node';

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

const showError = (what: string, error: unknown) => showErrorIn(ui.error, what, error);

/** `npm run bench -- --out` writes the same text. */
const resultJson = (result: BenchResult) => `${JSON.stringify(result, null, 2)}\n`;

// ---- The browser and its GPU ---------------------------------------------

async function describeTimestamps(gpu: Gpu): Promise<string> {
  if (!gpu.timestamps) {
    return 'not available (the adapter has no timestamp-query): kernels are timed as the wall time of many submissions, which is coarser.';
  }
  const roundingMs = await timestampRoundingMs(gpu.device);
  if (!roundingMs) return 'available, not rounded.';
  return (
    `available, but rounded to ${+(roundingMs * 1000).toPrecision(3)} µs, against timing attacks: a kernel shorter than that reads as 0 or one step ` +
    '(its mean over the repeats is still sound). Chromium rounds them to 100 µs unless its WebGPU developer features are on: ' +
    'enable chrome://flags/#enable-webgpu-developer-features and restart the browser, or start it with --enable-webgpu-developer-features.'
  );
}

async function startGpu(): Promise<Gpu> {
  ui.browser.textContent = navigator.userAgent;
  ui.timers.textContent = crossOriginIsolated
    ? 'performance.now() to 5 µs (the page is cross-origin isolated).'
    : 'performance.now() to 100 µs: the server sends no COOP/COEP headers, so "CPU ms to record" is coarse; step times are not affected.';
  try {
    const gpu = await createGpu();
    ui.adapter.textContent = describeAdapter(gpu.adapter);
    if (gpu.adapter.isFallbackAdapter) ui.adapter.append(' — a CPU emulating a GPU: its figures are not GPU figures.');
    ui.timestamps.textContent = await describeTimestamps(gpu);
    return gpu;
  } catch (error) {
    ui.adapter.textContent = 'none';
    ui.timestamps.textContent = '—';
    throw error;
  }
}

// ---- Options -------------------------------------------------------------

function formOptions(): BenchOptions {
  const data = new FormData(ui.form);
  const models = data.getAll('model').map(String);
  if (!models.length) throw new Error('pick at least one model');
  return parseBenchOptions(data.get('mode') === 'quick', models.join(','), String(data.get('batches')), String(data.get('autotune')));
}

function fillForm(options: BenchOptions): void {
  ui.form.querySelectorAll<HTMLInputElement>('input[name=model]').forEach((box) => (box.checked = (options.models as string[]).includes(box.value)));
  ui.form.querySelectorAll<HTMLInputElement>('input[name=mode]').forEach((radio) => (radio.checked = radio.value === (options.quick ? 'quick' : 'full')));
  batchesInput().value = options.batches.join(',');
  ui.form.querySelector<HTMLSelectElement>('select[name=autotune]')!.value = options.autotune ?? 'cached';
}

// Each mode comes with the CLI's batch sizes for it.
ui.form.addEventListener('change', (event) => {
  const target = event.target as HTMLInputElement;
  if (target.name === 'mode') batchesInput().value = DEFAULT_BATCHES[target.value as 'quick' | 'full'].join(',');
});

// ---- The report ----------------------------------------------------------

function element(tag: string, ...children: (Node | string)[]): HTMLElement {
  const node = document.createElement(tag);
  node.append(...children);
  return node;
}

/** The report's text with its two Markdown marks, `code` and **bold**, as elements. */
function inline(text: string): (Node | string)[] {
  return text
    .split(/(`[^`]+`|\*\*[^*]+\*\*)/)
    .filter(Boolean)
    .map((part) => {
      if (part.startsWith('`')) return element('code', part.slice(1, -1));
      if (part.startsWith('**')) return element('strong', part.slice(2, -2));
      return part;
    });
}

function blockElement(block: Block): HTMLElement {
  switch (block.kind) {
    case 'heading':
      // The page's own h1 is its title: the report's levels start one below.
      return element(`h${block.level + 1}`, ...inline(block.text));
    case 'paragraph':
      return element('p', ...inline(block.text));
    case 'warning': {
      const warning = element('p', ...inline(block.text));
      warning.className = 'warning';
      return warning;
    }
    case 'table': {
      const head = element('tr', ...block.header.map((cell) => element('th', ...inline(cell))));
      const rows = block.rows.map((cells) => element('tr', ...cells.map((cell) => element('td', ...inline(cell)))));
      const wrapper = element('div', element('table', element('thead', head), element('tbody', ...rows)));
      wrapper.className = 'table-scroll';
      return wrapper;
    }
  }
}

function showResult(result: BenchResult): void {
  ui.report.replaceChildren(...reportBlocks(result).map(blockElement));
  for (const chart of state.charts) chart.destroy();
  ui.kernelCharts.replaceChildren();
  ui.results.hidden = false;
  state.charts = [comparisonChart(ui.comparisonChart, result.models)];
  for (const m of result.models) {
    const canvas = document.createElement('canvas');
    const box = element('div', canvas);
    box.className = 'chart-box';
    box.style.height = `${80 + 20 * m.kernels.rows.length}px`;
    ui.kernelCharts.append(box);
    state.charts.push(kernelChart(canvas, m));
  }
}

ui.json.addEventListener('click', () => {
  if (state.result) download(resultJson(state.result), `bench-${state.result.environment.date.replace(/[:.]/g, '-')}.json`, 'application/json');
});

// ---- Running -------------------------------------------------------------

async function run(): Promise<BenchResult> {
  const gpu = state.gpu;
  if (!gpu) throw new Error('no WebGPU device');
  const options = formOptions();
  ui.error.hidden = true;
  ui.run.disabled = true;
  ui.progress.textContent = '';
  const started = performance.now();
  const log = (line: string) => {
    ui.progress.append(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${line}\n`);
    console.log(line);
  };
  try {
    const versions = { 'user agent': navigator.userAgent, 'cross-origin isolated (5 µs timers)': String(crossOriginIsolated) };
    const result = await runSuite(gpu, options, { runtime: 'browser', versions }, { unavailable: NO_PYTHON }, log);
    log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    state.result = result;
    showResult(result);
    return result;
  } finally {
    ui.run.disabled = false;
  }
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  run().catch((error) => showError('The benchmark failed', error));
});

async function main(): Promise<void> {
  const requested = new URLSearchParams(location.search).get('options');
  try {
    state.gpu = await startGpu();
    ui.run.disabled = false;
    if (!requested) return;
    fillForm(JSON.parse(requested) as BenchOptions);
    const result = await run();
    await driver.benchDone?.(resultJson(result));
  } catch (error) {
    showError(state.gpu ? 'The benchmark failed' : 'No WebGPU', error);
    await driver.benchFailed?.(errorText(error));
  }
}

void main();
