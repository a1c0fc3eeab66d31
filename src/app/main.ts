// The web page: load MNIST, train one of the tutorial's models with a live
// chart, test it, save and load it. It calls the engine; it makes no GPU calls.
import './style.css';
import {
  defaultGpu,
  describeAdapter,
  loadModelBytes,
  mnistFromFiles,
  tutorialModel,
  type Dataset,
  type Gpu,
  type Logs,
  type Mnist,
  type Model,
  type TutorialModel,
} from '../engine';
import { MNIST_FILES, MNIST_PARTS, MNIST_SHA256, type MnistPart } from '../engine';
import { LiveChart } from './chart';
import { digitCanvas, imageOf, showProbabilities, showSamples } from './digits';
import { TrainingLog } from './log';

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const ui = {
  adapter: byId('adapter'),
  error: byId('error'),
  dataFiles: byId<HTMLInputElement>('data-files'),
  builtinLoad: byId<HTMLButtonElement>('builtin-load'),
  dataStatus: byId('data-status'),
  samples: byId('samples'),
  trainForm: byId<HTMLFormElement>('train-form'),
  trainButton: byId<HTMLButtonElement>('train-button'),
  testResult: byId('test-result'),
  evaluate: byId<HTMLButtonElement>('evaluate'),
  testIndex: byId<HTMLInputElement>('test-index'),
  predict: byId<HTMLButtonElement>('predict'),
  testImage: byId<HTMLCanvasElement>('test-image'),
  predictionText: byId('prediction-text'),
  bars: byId('bars'),
  save: byId<HTMLButtonElement>('save'),
  loadModel: byId<HTMLInputElement>('load-model'),
  modelName: byId('model-name'),
  summary: byId('summary'),
  chart: byId<HTMLCanvasElement>('chart'),
};
const log = new TrainingLog(byId('log'));
const chart = new LiveChart(ui.chart);

const state: { gpu?: Gpu; mnist?: Mnist; model?: Model; modelName: string; busy: boolean } = { modelName: '', busy: false };

// ---- Errors and the busy state -------------------------------------------

function showError(what: string, error: unknown): void {
  console.error(error);
  const message = error instanceof Error ? error.message : String(error);
  ui.error.textContent = `${what}: ${message}`;
  ui.error.hidden = false;
}

/** Enables each control when what it needs is there and nothing else is running. */
function refresh(): void {
  const idle = !state.busy;
  ui.dataFiles.disabled = ui.builtinLoad.disabled = !idle;
  for (const element of Array.from(ui.trainForm.elements)) (element as HTMLInputElement).disabled = !idle;
  ui.trainButton.disabled = !(idle && state.gpu && state.mnist);
  ui.evaluate.disabled = ui.predict.disabled = !(idle && state.model && state.mnist);
  ui.save.disabled = !(idle && state.model);
  ui.loadModel.disabled = !(idle && state.gpu);
}

/** Runs one user action at a time; its error, if any, is shown in the page. */
async function action(what: string, body: () => Promise<void>): Promise<void> {
  if (state.busy) return;
  state.busy = true;
  ui.error.hidden = true;
  refresh();
  try {
    await body();
  } catch (error) {
    showError(what, error);
  } finally {
    state.busy = false;
    refresh();
  }
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(what);
  return value;
}

// ---- WebGPU ---------------------------------------------------------------

async function initGpu(): Promise<void> {
  if (!('gpu' in navigator)) {
    ui.adapter.textContent = 'WebGPU adapter: none';
    const why = window.isSecureContext
      ? 'this browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+, or Chromium with --enable-unsafe-webgpu.'
      : 'WebGPU needs a secure context: open the page over https, or from localhost / 127.0.0.1.';
    throw new Error(why);
  }
  ui.adapter.textContent = 'WebGPU adapter: requesting…';
  try {
    state.gpu = await defaultGpu();
  } catch (error) {
    ui.adapter.textContent = 'WebGPU adapter: none';
    throw error;
  }
  ui.adapter.textContent = `WebGPU adapter: ${describeAdapter(state.gpu.adapter)}`;
}

// ---- Data -----------------------------------------------------------------

interface DataFile {
  name: string;
  read: () => Promise<Uint8Array>;
}

/**
 * Which MNIST part a file holds, by its name: `train-images-idx3-ubyte.gz`,
 * `train-images.idx3-ubyte` (as some mirrors name it), and so on.
 */
function partOf(name: string): MnistPart | undefined {
  const plain = name.toLowerCase().replace(/\.gz$/, '').replace(/[._]/g, '-');
  return MNIST_PARTS.find((part) => plain.includes(MNIST_FILES[part]));
}

/** The file for each part; where both a .gz and a raw file are given, the raw one. */
function assignParts(files: DataFile[]): Record<MnistPart, DataFile> {
  const chosen: Partial<Record<MnistPart, DataFile>> = {};
  for (const file of files) {
    const part = partOf(file.name);
    if (!part) continue;
    const other = chosen[part];
    if (other && /\.gz$/i.test(other.name) === /\.gz$/i.test(file.name)) {
      throw new Error(`two files for ${MNIST_FILES[part]}: ${other.name} and ${file.name}`);
    }
    if (!other || /\.gz$/i.test(other.name)) chosen[part] = file;
  }
  const missing = MNIST_PARTS.filter((part) => !chosen[part]);
  if (missing.length > 0) {
    const got = files.length > 0 ? files.map((f) => f.name).join(', ') : 'no files';
    throw new Error(`missing ${missing.map((part) => MNIST_FILES[part]).join(', ')} (.gz or raw); got ${got}`);
  }
  return chosen as Record<MnistPart, DataFile>;
}

async function loadData(files: DataFile[], source: string): Promise<void> {
  const parts = assignParts(files);
  const previous = Array.from(ui.dataStatus.childNodes);
  ui.dataStatus.textContent = `Reading ${source}…`;
  const bytes = {} as Record<MnistPart, Uint8Array>;
  const names = {} as Record<MnistPart, string>;
  let mnist: Mnist;
  try {
    for (const part of MNIST_PARTS) {
      bytes[part] = await parts[part].read();
      names[part] = parts[part].name;
    }
    mnist = await mnistFromFiles(bytes, names);
  } catch (error) {
    ui.dataStatus.replaceChildren(...previous);
    throw error;
  }
  state.mnist = mnist;
  const { train, test } = mnist;
  const count = (n: number) => n.toLocaleString('en-US');
  const summary = `${source}: ${count(train.count)} training and ${count(test.count)} test images of ${train.height}x${train.width}, ${train.classes} classes. `;
  const check = document.createElement('strong');
  if (mnist.official) {
    check.className = 'ok';
    check.textContent = 'The official MNIST (SHA-256 checked).';
  } else {
    const differ = MNIST_PARTS.filter((part) => mnist.digests[part] !== MNIST_SHA256[part]).map((part) => names[part]);
    check.className = 'warning';
    check.textContent = `These files are not the official MNIST: the SHA-256 of ${differ.join(', ')} differs from the published one.`;
  }
  ui.dataStatus.replaceChildren(summary, check);
  ui.testIndex.max = String(test.count - 1);
  showSamples(ui.samples, train);
  clearTest();
}

/** The four MNIST files the site serves (public/mnist, copied into the build). */
function builtInFiles(): DataFile[] {
  return MNIST_PARTS.map((part) => {
    const url = `${import.meta.env.BASE_URL}mnist/${MNIST_FILES[part]}.gz`;
    return {
      name: `${MNIST_FILES[part]}.gz`,
      read: async () => {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
        return new Uint8Array(await response.arrayBuffer());
      },
    };
  });
}

// ---- Training and testing -------------------------------------------------

interface Settings {
  model: TutorialModel;
  epochs: number;
  batchSize: number;
  trainLimit?: number;
  testLimit?: number;
  seed: number;
}

function field(name: string): string {
  return (ui.trainForm.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value.trim();
}

function integer(name: string, label: string, min: number): number | undefined {
  const text = field(name);
  if (text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${label} must be a whole number >= ${min}, got '${text}'`);
  return value;
}

function readSettings(): Settings {
  const model = field('model');
  if (model !== 'cnn' && model !== 'mlp') throw new Error(`unknown model '${model}'`);
  return {
    model,
    epochs: need(integer('epochs', 'Epochs', 1), 'Epochs is required'),
    batchSize: need(integer('batchSize', 'Batch size', 1), 'Batch size is required'),
    trainLimit: integer('trainLimit', 'Training images', 1),
    testLimit: integer('testLimit', 'Test images', 1),
    seed: integer('seed', 'Seed', 0) ?? Math.floor(Math.random() * 2 ** 31),
  };
}

/** The first `limit` examples of a dataset (all of them without a limit). */
function take(data: Dataset, limit: number | undefined): { x: Float32Array; y: Uint8Array; count: number } {
  const count = Math.min(limit ?? data.count, data.count);
  return { x: data.images.subarray(0, count * data.height * data.width), y: data.labels.subarray(0, count), count };
}

function setModel(model: Model, name: string): void {
  if (state.model !== model) state.model?.destroy();
  state.model = model;
  state.modelName = name;
  ui.modelName.textContent = `Model: ${name}, ${model.paramCount.toLocaleString('en-US')} parameters.`;
  ui.summary.textContent = model.summary();
}

async function train(settings: Settings): Promise<void> {
  const gpu = need(state.gpu, 'no WebGPU device');
  const mnist = need(state.mnist, 'load MNIST first');
  const { epochs, batchSize } = settings;
  const model = tutorialModel(settings.model, mnist.train.classes);
  model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed: settings.seed, gpu });
  setModel(model, settings.model);

  const data = take(mnist.train, settings.trainLimit);
  const steps = Math.ceil(data.count / batchSize);
  log.clear();
  log.line(`${settings.model}: ${data.count.toLocaleString('en-US')} training images, batch size ${batchSize}, seed ${settings.seed}`);
  log.line(`Epoch 1/${epochs}`);
  ui.chart.hidden = false;
  chart.reset(epochs);
  clearTest('Training…');
  let epochStart = performance.now();
  await model.fit(data.x, data.y, {
    epochs,
    batchSize,
    onBatchEnd: (step, logs, epoch) => {
      log.progress(step + 1, steps, performance.now() - epochStart, logs);
      chart.add(epoch, (step + 1) / steps, logs);
    },
    onEpochEnd: (epoch, logs) => {
      log.progress(steps, steps, logs.msPerStep * steps, logs, true);
      if (epoch + 1 < epochs) log.line(`Epoch ${epoch + 2}/${epochs}`);
      epochStart = performance.now();
    },
  });
  const { loss, accuracy } = await evaluate(batchSize, settings.testLimit);
  log.line(`test loss: ${loss.toFixed(4)} - test accuracy: ${accuracy.toFixed(4)}`);
}

/** Empties the test section (when the data or the model changes). */
function clearTest(message = state.model ? 'Evaluate the model on the test set, or predict a test image.' : 'Train or load a model, then evaluate it on the test set.'): void {
  ui.testResult.textContent = message;
  ui.predictionText.textContent = '';
  ui.bars.replaceChildren();
  ui.testImage.hidden = true;
}

async function evaluate(batchSize: number, testLimit: number | undefined): Promise<Logs> {
  const model = need(state.model, 'train or load a model first');
  const data = take(need(state.mnist, 'load MNIST first').test, testLimit);
  ui.testResult.textContent = `Evaluating on ${data.count.toLocaleString('en-US')} test images…`;
  const { loss, accuracy } = await model.evaluate(data.x, data.y, { batchSize });
  ui.testResult.textContent = `${state.modelName}: test loss ${loss.toFixed(4)} - test accuracy ${accuracy.toFixed(4)} (${data.count.toLocaleString('en-US')} test images)`;
  await predict();
  return { loss, accuracy };
}

/** The chosen test image, its probabilities as bars, their argmax and the true label. */
async function predict(): Promise<void> {
  const model = need(state.model, 'train or load a model first');
  const test = need(state.mnist, 'load MNIST first').test;
  const index = Number(ui.testIndex.value);
  if (!Number.isInteger(index) || index < 0 || index >= test.count) {
    throw new Error(`test image must be a whole number from 0 to ${test.count - 1}, got '${ui.testIndex.value}'`);
  }
  const pixels = imageOf(test, index);
  const probabilities = await model.predict(pixels);
  digitCanvas(pixels, test.width, test.height, ui.testImage);
  ui.testImage.hidden = false;
  const label = test.labels[index];
  const argmax = showProbabilities(ui.bars, probabilities, label);
  const verdict = argmax === label ? 'right' : 'wrong';
  ui.predictionText.textContent = `Test image ${index}: argmax ${argmax} (p = ${probabilities[argmax].toFixed(4)}), true label ${label}: ${verdict}.`;
  ui.predictionText.className = verdict;
}

// ---- Saving and loading ---------------------------------------------------

async function save(): Promise<void> {
  const model = need(state.model, 'train or load a model first');
  const bytes = await model.toBytes();
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = `${state.modelName}.safetensors`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function load(file: File): Promise<void> {
  const gpu = need(state.gpu, 'no WebGPU device');
  const model = await loadModelBytes(new Uint8Array(await file.arrayBuffer()), { source: file.name, gpu });
  setModel(model, file.name.replace(/\.safetensors$/i, ''));
  // The log and chart were the previous model's training.
  log.clear();
  ui.chart.hidden = true;
  clearTest(`Loaded ${file.name}: ${state.mnist ? 'evaluate it on the test set, or predict a test image.' : 'load MNIST to evaluate or predict with it.'}`);
}

// ---- Wiring ---------------------------------------------------------------

ui.dataFiles.addEventListener('change', () => {
  const files = Array.from(ui.dataFiles.files ?? []).map((file): DataFile => ({ name: file.name, read: async () => new Uint8Array(await file.arrayBuffer()) }));
  ui.dataFiles.value = '';
  void action('Loading MNIST', () => loadData(files, 'Picked files'));
});
ui.trainForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void action('Training', () => train(readSettings()));
});
ui.evaluate.addEventListener('click', () =>
  action('Evaluating', async () => {
    await evaluate(integer('batchSize', 'Batch size', 1) ?? 128, integer('testLimit', 'Test images', 1));
  }),
);
ui.predict.addEventListener('click', () => action('Predicting', predict));
ui.save.addEventListener('click', () => action('Saving the model', save));
ui.loadModel.addEventListener('change', () => {
  const file = ui.loadModel.files?.[0];
  ui.loadModel.value = '';
  if (file) void action('Loading the model', () => load(file));
});
window.addEventListener('unhandledrejection', (event) => showError('Unexpected error', event.reason));
window.addEventListener('error', (event) => showError('Unexpected error', event.error ?? event.message));

refresh();
ui.builtinLoad.addEventListener('click', () => action('Loading MNIST', () => loadData(builtInFiles(), 'MNIST')));
void action('WebGPU', initGpu);
