// workbench.html: edit a kernel's WGSL with inline compile errors, check, time and
// train with it, share it by URL; and the tutorial's convolution demo. It calls
// the engine and the workbench's modules; it makes no GPU calls.
import '../app/style.css';
import './page.css';
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { EditorView, basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { forceLinting, linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { wgsl } from '@iizukak/codemirror-lang-wgsl';
import {
  defaultGpu,
  describeAdapter,
  describeSetup,
  formatMs,
  MNIST_FILES,
  MNIST_PARTS,
  mnistFromFiles,
  pixelValues,
  tutorialModel,
  type Gpu,
  type Mnist,
  type MnistPart,
  type SetupProgress,
  type TutorialModel,
} from '../engine';
import {
  builtInSource,
  checkKernel,
  compileMessages,
  convolveDigit,
  editedLines,
  EDITED_FILE,
  fullShape,
  gpuCapabilities,
  kernelConstants,
  pointAtEdits,
  timeKernel,
  timestampRounding,
  workbenchKernels,
  type CheckResult,
  type Comparison,
  type Shape,
  type Timing,
} from './index';
import { digitCanvas, grayCanvas } from '../app/digits';
import { byId, download, messageOf } from '../app/dom';
import { ProgressLine } from '../app/progress';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

const kernels = workbenchKernels();

const ui = {
  adapter: byId('adapter'),
  features: byId('features'),
  limits: byId('limits'),
  error: byId('error'),
  kernel: byId<HTMLSelectElement>('kernel'),
  preset: byId<HTMLSelectElement>('preset'),
  letters: byId('letters'),
  shape: byId('shape'),
  constants: byId('constants'),
  compileStatus: byId('compile-status'),
  compileMessages: byId('compile-messages'),
  reset: byId<HTMLButtonElement>('reset'),
  share: byId<HTMLButtonElement>('share'),
  download: byId<HTMLButtonElement>('download'),
  shareLink: byId('share-link'),
  check: byId<HTMLButtonElement>('check'),
  checkResult: byId('check-result'),
  trials: byId<HTMLInputElement>('trials'),
  time: byId<HTMLButtonElement>('time'),
  timeWarning: byId('time-warning'),
  timeResult: byId('time-result'),
  trainModel: byId<HTMLSelectElement>('train-model'),
  trainImages: byId<HTMLInputElement>('train-images'),
  trainBatch: byId<HTMLInputElement>('train-batch'),
  train: byId<HTMLButtonElement>('train'),
  trainStatus: byId('train-status'),
  trainChart: byId<HTMLCanvasElement>('train-chart'),
  demoDigit: byId<HTMLInputElement>('demo-digit'),
  demoPreset: byId<HTMLSelectElement>('demo-preset'),
  demoRun: byId<HTMLButtonElement>('demo-run'),
  demoKernel: byId('demo-kernel'),
  demoImage: byId<HTMLCanvasElement>('demo-image'),
  demoFeature: byId<HTMLCanvasElement>('demo-feature'),
  demoPooled: byId<HTMLCanvasElement>('demo-pooled'),
  demoStatus: byId('demo-status'),
};

const state: { gpu?: Gpu; mnist?: Promise<Mnist>; busy: boolean; constantValues: Record<string, number> } = { busy: false, constantValues: {} };

function showError(error: unknown): void {
  ui.error.hidden = false;
  ui.error.textContent = messageOf(error);
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attributes: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

// ---- The editor, with the compiler's messages as lint marks ----------------

/** The compiler's messages for the source, shown inline (the linter) and as a list. */
async function lint(view: EditorView): Promise<Diagnostic[]> {
  if (!state.gpu) return [];
  const source = view.state.doc.toString();
  if (source.trim() === '') {
    ui.compileMessages.replaceChildren();
    ui.compileStatus.textContent = 'empty: no kernel to compile (Reset brings back the built-in one)';
    ui.compileStatus.className = 'error-text';
    ui.compileStatus.dataset.errors = '1';
    return [];
  }
  const name = selected().name;
  // An error from a line the edit did not touch, caused by one it did (a return before a helper's barrier), is shown at the edited line too.
  const messages = pointAtEdits(await compileMessages(state.gpu, name, source, EDITED_FILE), editedLines(builtInSource(name), source));
  const length = view.state.doc.length;
  ui.compileMessages.replaceChildren(
    ...messages.map((m) => element('li', `${EDITED_FILE}:${m.line}:${m.column}: ${m.type === 'info' ? 'note' : m.type}: ${m.message}`, { class: m.type === 'error' ? 'error-text' : 'warning' })),
  );
  const errors = messages.filter((m) => m.type === 'error').length;
  const warnings = messages.filter((m) => m.type === 'warning').length;
  ui.compileStatus.textContent = errors ? `${errors} error${errors > 1 ? 's' : ''}` : `compiles${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}`;
  ui.compileStatus.className = errors ? 'error-text' : 'ok';
  ui.compileStatus.dataset.errors = String(errors);
  return messages.map((m) => {
    const from = Math.min(m.offset, length);
    return { from, to: Math.min(from + Math.max(m.length, 1), length), severity: m.type === 'info' ? 'info' : m.type, message: m.message, source: `${m.line}:${m.column}` };
  });
}

const EXTENSIONS = [
  basicSetup,
  wgsl(),
  lintGutter(),
  // Debounced by the linter: it runs 300 ms after the last keystroke.
  linter(lint, { delay: 300 }),
  EditorView.theme({ '&': { maxHeight: '32rem' }, '.cm-scroller': { overflow: 'auto' } }),
];

const editor = new EditorView({ parent: byId('editor'), state: EditorState.create({ doc: builtInSource(kernels[0].name), extensions: EXTENSIONS }) });

const source = () => editor.state.doc.toString();

/** A kernel's source loaded into the editor: a new state, whose undo history starts with it (Ctrl+Z cannot empty the editor). */
function loadSource(text: string): void {
  editor.setState(EditorState.create({ doc: text, extensions: EXTENSIONS }));
}

/** Replaces the editor's text as an edit (Reset): one that Ctrl+Z undoes. */
function setSource(text: string): void {
  editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: text } });
}

/** The editor's source, refused when empty: it would compile to nothing. */
function editedSource(): string {
  const text = source();
  if (text.trim() === '') throw new Error('the editor is empty: write a kernel, or Reset to the built-in one');
  return text;
}

// ---- Kernel, shape and constants ------------------------------------------

const selected = () => kernels.find((k) => k.name === ui.kernel.value)!;

function shapeInputs(shape: Shape): void {
  ui.shape.replaceChildren(
    ...Object.entries(shape).map(([letter, value]) => {
      const label = element('label', `${letter} `);
      label.append(element('input', undefined, { type: 'number', min: '0', value: String(value), name: letter, 'data-letter': letter }));
      return label;
    }),
  );
}

function currentShape(): Shape {
  const shape: Shape = {};
  for (const input of Array.from(ui.shape.querySelectorAll<HTMLInputElement>('input[data-letter]'))) shape[input.dataset.letter!] = Number(input.value);
  return fullShape(selected().name, shape);
}

function currentConstants(): Record<string, number> {
  const constants: Record<string, number> = {};
  for (const input of Array.from(ui.constants.querySelectorAll<HTMLInputElement>('input[data-constant]'))) {
    if (input.value !== '' && Number(input.value) !== state.constantValues[input.dataset.constant!]) constants[input.dataset.constant!] = Number(input.value);
  }
  return constants;
}

/** The `override` constants found by reflection, as inputs holding the built-in dispatch's values at this shape. */
async function showConstants(given: Record<string, number> = {}): Promise<void> {
  if (!state.gpu) return;
  const found = await kernelConstants(state.gpu, selected().name, currentShape(), source()).catch(() => []);
  state.constantValues = Object.fromEntries(found.map((c) => [c.name, c.value ?? NaN]));
  ui.constants.replaceChildren(
    element('span', found.length ? 'override constants:' : 'no override constants', { class: 'muted' }),
    ...found.map((c) => {
      const label = element('label', `${c.name} (${c.type}) `);
      const value = given[c.name] ?? c.value;
      label.append(element('input', undefined, { type: 'number', name: c.name, 'data-constant': c.name, value: value === null ? '' : String(value) }));
      return label;
    }),
  );
}

function choosePreset(index: number): void {
  shapeInputs(selected().presets[index].shape);
}

async function chooseKernel(name: string, restore?: { source?: string; shape?: Shape; constants?: Record<string, number> }): Promise<void> {
  ui.kernel.value = name;
  const kernel = selected();
  ui.letters.textContent = kernel.letters;
  ui.preset.replaceChildren(...kernel.presets.map((p, i) => element('option', p.name, { value: String(i) })));
  shapeInputs(restore?.shape ? fullShape(name, restore.shape) : kernel.presets[0].shape);
  loadSource(restore?.source ?? builtInSource(name));
  ui.trainModel.value = name.startsWith('conv2d') ? 'cnn' : 'mlp';
  await showConstants(restore?.constants);
}

// ---- Share: the URL's hash ---------------------------------------------------

async function deflate(text: string): Promise<string> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function inflate(encoded: string): Promise<string> {
  const binary = atob(encoded.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Response(stream).text();
}

const pairs = (values: Record<string, number>) => Object.entries(values).map(([k, v]) => `${k}=${v}`).join(',');
function parsePairs(text: string | null): Record<string, number> {
  const result: Record<string, number> = {};
  for (const pair of (text ?? '').split(',').filter(Boolean)) {
    const [name, value] = pair.split('=');
    if (name && Number.isFinite(Number(value))) result[name] = Number(value);
  }
  return result;
}

/** `#kernel=conv2d:forward&shape=N=2,...&constants=...&source=<deflated, base64url>`: the source only when edited. */
async function share(): Promise<void> {
  const params = new URLSearchParams({ kernel: selected().shortName, shape: pairs(currentShape()) });
  const constants = currentConstants();
  if (Object.keys(constants).length) params.set('constants', pairs(constants));
  if (source() !== builtInSource(selected().name)) params.set('source', await deflate(source()));
  history.replaceState(null, '', `#${params}`);
  ui.shareLink.hidden = false;
  ui.shareLink.textContent = `This page's address now holds the kernel, shape and constants (${location.href.length.toLocaleString('en-US')} characters): copy it to share.`;
  await navigator.clipboard?.writeText(location.href).catch(() => {});
}

async function restore(): Promise<boolean> {
  if (!location.hash) return false;
  const params = new URLSearchParams(location.hash.slice(1));
  const name = params.get('kernel');
  const kernel = name && kernels.find((k) => k.shortName === name || k.name === name);
  if (!kernel) return false;
  const encoded = params.get('source');
  await chooseKernel(kernel.name, {
    source: encoded ? await inflate(encoded) : undefined,
    shape: parsePairs(params.get('shape')),
    constants: parsePairs(params.get('constants')),
  });
  return true;
}

// ---- Check -------------------------------------------------------------------

const fmt = (n: number) => (Number.isFinite(n) ? n.toExponential(2) : String(n));

function comparisonRow(what: string, c: Comparison): HTMLTableRowElement {
  const row = element('tr');
  row.append(element('td', what), element('td', fmt(c.maxAbs)), element('td', fmt(c.maxRel)), element('td', `${c.count.toLocaleString('en-US')} of ${c.total.toLocaleString('en-US')}`));
  return row;
}

function showCheck(result: CheckResult): void {
  ui.checkResult.dataset.status = result.status;
  if (result.status === 'compile-error') {
    const lines = result.messages.map((m) => element('pre', `${result.file}:${m.line}:${m.column}: ${m.type === 'info' ? 'note' : 'error'}: ${m.message}`));
    ui.checkResult.replaceChildren(element('p', 'Does not compile:', { class: 'error-text' }), ...lines);
    return;
  }
  if (result.status === 'invalid') {
    ui.checkResult.replaceChildren(element('p', 'Does not fit the built-in kernel:', { class: 'error-text' }), element('pre', result.message));
    return;
  }
  const verdict = element('p', result.status === 'match' ? 'Matches the reference.' : 'Does not match the reference.', {
    class: result.status === 'match' ? 'ok' : 'error-text',
    'data-testid': 'check-verdict',
  });
  const about = element(
    'p',
    `${result.output.name} [${result.output.shape.join(', ')}] within |got − want| ≤ ${fmt(result.tolerance.atol)} + ${result.tolerance.rtol} |want|; ` +
      `workgroups ${result.workgroups.builtIn.join('×')} built-in, ${result.workgroups.edited.join('×')} edited.`,
    { class: 'muted' },
  );
  const table = element('table', undefined, { class: 'figures' });
  const head = element('tr');
  head.append(element('th', 'kernel'), element('th', 'max abs error'), element('th', 'max rel error'), element('th', 'outside tolerance'));
  table.append(head, comparisonRow('built-in', result.builtIn), comparisonRow('edited', result.edited));
  const children: HTMLElement[] = [verdict, about, table];
  if (result.edited.mismatches.length) {
    const list = element('ul', undefined, { 'data-testid': 'mismatches' });
    for (const m of result.edited.mismatches) list.append(element('li', `[${m.at.join(', ')}] got ${m.got}, expected ${m.want}`));
    children.push(element('p', 'First mismatches of the edited kernel:'), list);
  }
  ui.checkResult.replaceChildren(...children);
}

// ---- Time --------------------------------------------------------------------

function showTiming(result: { builtIn: Timing; edited: Timing | null }): void {
  const table = element('table', undefined, { class: 'figures', 'data-testid': 'timing-table' });
  const head = element('tr');
  for (const h of ['kernel', 'median ms', 'min ms', 'max ms', 'GFLOP/s', 'GB/s']) head.append(element('th', h));
  table.append(head);
  for (const [what, t] of [['built-in', result.builtIn], ['edited', result.edited]] as const) {
    if (!t) continue;
    const row = element('tr');
    row.append(element('td', what));
    for (const v of [t.ms.median, t.ms.min, t.ms.max]) row.append(element('td', formatMs(v)));
    row.append(element('td', t.gflops?.toFixed(2) ?? '—'), element('td', t.gbPerS?.toFixed(2) ?? '—'));
    table.append(row);
  }
  ui.timeResult.replaceChildren(table);
}

function showRounding(roundingMs: number | null): void {
  ui.timeWarning.hidden = roundingMs === null;
  if (roundingMs !== null) {
    ui.timeWarning.textContent =
      `This browser rounds GPU timestamps to ${+(roundingMs * 1000).toPrecision(3)} µs, so a short kernel reads as 0 or one step. ` +
      'Start Chrome with --enable-webgpu-developer-features (or turn on chrome://flags/#enable-webgpu-developer-features) for unrounded timestamps.';
  }
}

// ---- Train -------------------------------------------------------------------

async function mnist(): Promise<Mnist> {
  state.mnist ??= (async () => {
    const files = {} as Record<MnistPart, Uint8Array>;
    for (const part of MNIST_PARTS) {
      const url = `${import.meta.env.BASE_URL}mnist/${MNIST_FILES[part]}.gz`;
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
      files[part] = new Uint8Array(await response.arrayBuffer());
    }
    return mnistFromFiles(files);
  })();
  return state.mnist;
}

let chart: Chart<'line', { x: number; y: number }[]> | undefined;
const TRAIN_COLOURS = { builtIn: '#1864ab', edited: '#d9480f' } as const;

const trainProgress = new ProgressLine(ui.trainStatus);

async function train(): Promise<void> {
  const gpu = state.gpu!;
  const edited = editedSource();
  trainProgress.show('Loading MNIST…');
  const data = await mnist();
  const count = Math.min(Number(ui.trainImages.value), data.train.count);
  const batchSize = Number(ui.trainBatch.value);
  const x = data.train.pixels.subarray(0, count * 784);
  const y = data.train.labels.subarray(0, count);
  const kind = ui.trainModel.value as TutorialModel;
  const steps = Math.ceil(count / batchSize);
  const runs: { label: string; colour: string; losses: { x: number; y: number }[] }[] = [];
  try {
    for (const [label, colour, kernels] of [
      ['built-in', TRAIN_COLOURS.builtIn, undefined],
      ['edited', TRAIN_COLOURS.edited, { [selected().shortName]: { source: edited, constants: currentConstants(), file: EDITED_FILE } }],
    ] as const) {
      const run = `Training ${kind} on ${count} images with the ${label} kernel`;
      trainProgress.show(`${run}…`);
      const model = tutorialModel(kind, data.train.classes);
      const onProgress = (p: SetupProgress) => trainProgress.show(`${run}: ${describeSetup(p)}`);
      model.compile({ optimizer: 'rmsprop', seed: 1, gpu, kernels, onProgress });
      const losses: { x: number; y: number }[] = [];
      try {
        await model.fit(x, y, {
          epochs: 1,
          batchSize,
          updateEvery: 1,
          callbacks: {
            onTrainBatchEnd: (step, logs) => {
              losses.push({ x: step + 1, y: logs.loss });
              trainProgress.show(`${run}: step ${step + 1} of ${steps}, loss ${logs.loss.toFixed(4)}`);
            },
          },
        });
      } finally {
        model.destroy();
      }
      runs.push({ label: `${label} kernel`, colour, losses });
    }
  } finally {
    trainProgress.stop();
  }
  chart?.destroy();
  chart = new Chart(ui.trainChart, {
    type: 'line',
    // The edited run dashed, so that the built-in one shows through where they agree.
    data: { datasets: runs.map((r, i) => ({ label: r.label, data: r.losses, borderColor: r.colour, backgroundColor: r.colour, pointRadius: 1, borderWidth: 2, borderDash: i ? [6, 4] : [] })) },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      scales: { x: { type: 'linear', title: { display: true, text: 'step' } }, y: { type: 'linear', title: { display: true, text: 'loss (running mean)' } } },
    },
  });
  const last = (r: (typeof runs)[number]) => r.losses[r.losses.length - 1]?.y.toFixed(4);
  trainProgress.stop(`final running loss: built-in ${last(runs[0])}, edited ${last(runs[1])}`);
}

// ---- The convolution demo ----------------------------------------------------

const DEMO_KERNELS: Record<string, number[]> = {
  "the tutorial's [[1,0,1],[0,1,0],[1,0,1]]": [1, 0, 1, 0, 1, 0, 1, 0, 1],
  'vertical edges (Sobel)': [-1, 0, 1, -2, 0, 2, -1, 0, 1],
  'horizontal edges (Sobel)': [-1, -2, -1, 0, 0, 0, 1, 2, 1],
  'edges (Laplacian)': [0, 1, 0, 1, -4, 1, 0, 1, 0],
  'blur (box)': Array(9).fill(1 / 9),
  sharpen: [0, -1, 0, -1, 5, -1, 0, -1, 0],
};

function demoKernelInputs(values: number[]): void {
  ui.demoKernel.replaceChildren(
    ...values.map((v, i) => element('input', undefined, { type: 'number', step: '0.1', value: String(+v.toPrecision(4)), 'aria-label': `kernel row ${Math.floor(i / 3)} column ${i % 3}` })),
  );
}

/** Values drawn as grey: the map's own range from white to black. */
function mapCanvas(values: Float32Array, side: number, canvas: HTMLCanvasElement): void {
  const low = Math.min(...values);
  const high = Math.max(...values);
  grayCanvas(values, side, side, (v) => (high > low ? (v - low) / (high - low) : 0), canvas);
  canvas.dataset.values = JSON.stringify(Array.from(values));
}

async function convolve(): Promise<void> {
  const data = await mnist();
  const index = Math.max(0, Math.min(data.test.count - 1, Number(ui.demoDigit.value)));
  const image = pixelValues(data.test.pixels.subarray(index * 784, (index + 1) * 784));
  const kernel = Array.from(ui.demoKernel.querySelectorAll('input')).map((input) => Number(input.value));
  const { feature, pooled } = await convolveDigit(state.gpu!, image, kernel);
  digitCanvas(image, 28, 28, ui.demoImage);
  ui.demoImage.dataset.values = JSON.stringify(Array.from(image));
  ui.demoImage.dataset.kernel = JSON.stringify(kernel);
  mapCanvas(feature, 26, ui.demoFeature);
  mapCanvas(pooled, 13, ui.demoPooled);
  ui.demoStatus.textContent = `test image ${index} (label ${data.test.labels[index]}): feature map 26x26, pooled 13x13`;
}

// ---- Wiring ------------------------------------------------------------------

/** Runs one action at a time, with the buttons disabled, showing its error. */
async function exclusive(run: () => Promise<void>): Promise<void> {
  if (state.busy) return;
  state.busy = true;
  setButtons(false);
  ui.error.hidden = true;
  try {
    await run();
  } catch (error) {
    showError(error);
  } finally {
    state.busy = false;
    setButtons(true);
  }
}

function action(button: HTMLButtonElement, run: () => Promise<void>): void {
  button.addEventListener('click', () => void exclusive(run));
}

function setButtons(enabled: boolean): void {
  for (const button of [ui.check, ui.train, ui.demoRun]) button.disabled = !enabled || !state.gpu;
  ui.time.disabled = !enabled || !state.gpu?.timestamps;
}

async function check(): Promise<void> {
  ui.checkResult.replaceChildren(element('p', 'checking…', { class: 'muted' }));
  showCheck(await checkKernel(state.gpu!, selected().name, { source: editedSource(), constants: currentConstants(), file: EDITED_FILE }, { shape: currentShape() }));
}

async function time(): Promise<void> {
  ui.timeResult.replaceChildren(element('p', 'timing…', { class: 'muted' }));
  const result = await timeKernel(state.gpu!, selected().name, { source: editedSource(), constants: currentConstants(), file: EDITED_FILE }, { shape: currentShape(), trials: Number(ui.trials.value) });
  showRounding(result.roundingMs);
  showTiming(result);
}

action(ui.check, check);
action(ui.time, time);
// A changed override constant re-runs the check, and the timing where the device has timestamps.
ui.constants.addEventListener('change', () => {
  if (!state.gpu) return;
  void exclusive(async () => {
    await check();
    if (state.gpu?.timestamps) await time();
  });
});
action(ui.train, train);
action(ui.demoRun, convolve);
ui.kernel.addEventListener('change', () => void chooseKernel(ui.kernel.value).catch(showError));
ui.preset.addEventListener('change', () => {
  choosePreset(Number(ui.preset.value));
  void showConstants().catch(showError);
});
ui.shape.addEventListener('change', () => void showConstants(currentConstants()).catch(showError));
ui.reset.addEventListener('click', () => {
  setSource(builtInSource(selected().name));
  void showConstants().catch(showError);
});
ui.share.addEventListener('click', () => void share().catch(showError));
ui.download.addEventListener('click', () => download(source(), `${selected().shortName.replace(':', '.')}.wgsl`, 'text/plain'));
ui.demoPreset.addEventListener('change', () => demoKernelInputs(DEMO_KERNELS[ui.demoPreset.value]));

async function start(): Promise<void> {
  ui.kernel.replaceChildren(...kernels.map((k) => element('option', k.shortName, { value: k.name })));
  ui.demoPreset.replaceChildren(...Object.keys(DEMO_KERNELS).map((name) => element('option', name, { value: name })));
  demoKernelInputs(DEMO_KERNELS[ui.demoPreset.value]);
  try {
    state.gpu = await defaultGpu();
  } catch (error) {
    ui.adapter.textContent = 'none';
    showError(error);
    return;
  }
  const gpu = state.gpu;
  ui.adapter.textContent = describeAdapter(gpu.adapter);
  const { features, limits } = await gpuCapabilities(gpu);
  ui.features.textContent = features ? Object.entries(features).map(([name, has]) => `${name}: ${has ? 'yes' : 'no'}`).join(', ') : 'unknown';
  ui.limits.textContent = Object.entries(limits).map(([name, value]) => `${name} ${value.toLocaleString('en-US')}`).join(' · ');
  if (!(await restore())) await chooseKernel(kernels[0].name);
  showRounding(await timestampRounding(gpu));
  if (!gpu.timestamps) {
    ui.timeWarning.hidden = false;
    ui.timeWarning.textContent = "This device has no 'timestamp-query' feature, so kernels cannot be timed here.";
  }
  setButtons(true);
  // The linter ran before the device was there.
  forceLinting(editor);
  document.body.dataset.ready = 'true';
}

void start().catch(showError);
