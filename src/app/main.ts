// The web page: load MNIST, train one of the tutorial's models with a live
// chart, look at its results and inside it, draw a digit for it, profile its
// step, save and load it. It calls the engine; it makes no GPU calls.
import './style.css';
import type { Chart } from 'chart.js';
import { zipSync } from 'fflate';
import {
  defaultGpu,
  describeAdapter,
  freshGpu,
  loadModelBytes,
  mnistFromFiles,
  MNIST_FILES,
  MNIST_PARTS,
  MNIST_SHA256,
  optimizerConfig,
  torchFiles,
  tutorialModel,
  type Dataset,
  type EpochLogs,
  type Gpu,
  type Logs,
  type Mnist,
  type MnistPart,
  type Model,
  type OptimizerConfig,
  type OptimizerKind,
  type TutorialModel,
} from '../engine';
import { TrainingChart } from './chart';
import { mnistInput, MNIST_SIDE } from './digitPreprocess';
import { digitCanvas, imageOf, showProbabilities, showSamples } from './digits';
import { byId, download, messageOf, showErrorIn } from './dom';
import { DrawingPad } from './draw';
import { showInside } from './inside';
import { TrainingLog } from './log';
import { profileChart, profileTable } from './profile';
import { predictionsOf, showConfusion, showGallery, sortedIndices, type Order, type Predictions } from './results';

const ui = {
  adapter: byId('adapter'),
  error: byId('error'),
  gpuError: byId('gpu-error'),
  dataFiles: byId<HTMLInputElement>('data-files'),
  builtinLoad: byId<HTMLButtonElement>('builtin-load'),
  dataStatus: byId('data-status'),
  samples: byId('samples'),
  trainForm: byId<HTMLFormElement>('train-form'),
  trainButton: byId<HTMLButtonElement>('train-button'),
  pause: byId<HTMLButtonElement>('pause'),
  resume: byId<HTMLButtonElement>('resume'),
  stop: byId<HTMLButtonElement>('stop'),
  saveCheckpoint: byId<HTMLButtonElement>('save-checkpoint'),
  resumeCheckpoint: byId<HTMLInputElement>('resume-checkpoint'),
  trainStatus: byId('train-status'),
  trainAdapter: byId('train-adapter'),
  liveStep: byId('live-step'),
  liveMs: byId('live-ms'),
  liveRate: byId('live-rate'),
  chartBox: document.querySelector<HTMLElement>('[data-testid=chart]')!,
  epochs: byId<HTMLTableElement>('epochs'),
  testResult: byId('test-result'),
  evaluate: byId<HTMLButtonElement>('evaluate'),
  confusion: byId('confusion'),
  testIndex: byId<HTMLInputElement>('test-index'),
  predict: byId<HTMLButtonElement>('predict'),
  testImage: byId<HTMLCanvasElement>('test-image'),
  predictionText: byId('prediction-text'),
  bars: byId('bars'),
  galleryOrder: byId<HTMLSelectElement>('gallery-order'),
  galleryStatus: byId('gallery-status'),
  galleryAll: byId<HTMLButtonElement>('gallery-all'),
  galleryMore: byId<HTMLButtonElement>('gallery-more'),
  gallery: byId('gallery'),
  galleryBox: byId('gallery-box'),
  insideIndex: byId<HTMLInputElement>('inside-index'),
  insideShow: byId<HTMLButtonElement>('inside-show'),
  insideImage: byId<HTMLCanvasElement>('inside-image'),
  insideStatus: byId('inside-status'),
  insideView: byId('inside-view'),
  pad: byId<HTMLCanvasElement>('pad'),
  padClear: byId<HTMLButtonElement>('pad-clear'),
  padInput: byId<HTMLCanvasElement>('pad-input'),
  drawText: byId('draw-text'),
  drawBars: byId('draw-bars'),
  profileStatus: byId('profile-status'),
  profileBatch: byId<HTMLInputElement>('profile-batch'),
  profileRepeats: byId<HTMLInputElement>('profile-repeats'),
  profileRun: byId<HTMLButtonElement>('profile-run'),
  profilePlot: byId('profile-plot'),
  profileChart: byId<HTMLCanvasElement>('profile-chart'),
  profileTable: byId('profile-table'),
  save: byId<HTMLButtonElement>('save'),
  exportTorch: byId<HTMLButtonElement>('export-torch'),
  loadModel: byId<HTMLInputElement>('load-model'),
  modelName: byId('model-name'),
  summary: byId('summary'),
  chart: byId<HTMLCanvasElement>('chart'),
};
const log = new TrainingLog(byId('log'));
const chart = new TrainingChart(ui.chart);
const pad = new DrawingPad(ui.pad, () => strokeEnded());

/** A training run's pause and stop, driven by the buttons. */
interface Training {
  model: Model;
  /** Pause was pressed; fit pauses at its next progress update. */
  pausing: boolean;
  /** Set while paused: resumes fit. */
  resume?: () => void;
  stopping: boolean;
}

/** How many test images the gallery shows at first, and adds per "Show more". */
const GALLERY_PAGE = 100;

const state: {
  gpu?: Gpu;
  mnist?: Mnist;
  model?: Model;
  modelName: string;
  busy: boolean;
  training?: Training;
  /** The checkpoint training wrote at its last epoch's end, for "Save checkpoint". */
  checkpoint?: { bytes: Uint8Array; name: string };
  predictions?: Predictions;
  gallery: { only?: { label: number; predicted: number }; limit: number };
  profileChart?: Chart;
} = { modelName: '', busy: false, gallery: { limit: GALLERY_PAGE } };

// ---- Errors and the busy state -------------------------------------------

const showError = (what: string, error: unknown) => showErrorIn(ui.error, what, error);

/** Enables each control when what it needs is there and nothing else is running. */
function refresh(): void {
  const idle = !state.busy;
  const ready = idle && state.model !== undefined && state.mnist !== undefined;
  ui.dataFiles.disabled = ui.builtinLoad.disabled = !idle;
  for (const element of Array.from(ui.trainForm.elements)) (element as HTMLInputElement).disabled = !idle;
  ui.trainButton.disabled = !(idle && state.gpu && state.mnist);
  const training = state.training;
  ui.pause.disabled = !(training && !training.pausing && !training.resume && !training.stopping);
  ui.resume.disabled = !(training?.resume && !training.stopping);
  ui.stop.disabled = !(training && !training.stopping);
  ui.saveCheckpoint.disabled = !(idle && state.checkpoint);
  ui.resumeCheckpoint.disabled = !(idle && state.gpu && state.mnist);
  ui.evaluate.disabled = ui.predict.disabled = ui.insideShow.disabled = !ready;
  ui.profileRun.disabled = !(ready && state.gpu?.timestamps);
  ui.save.disabled = ui.exportTorch.disabled = !(idle && state.model);
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

const count = (n: number) => n.toLocaleString('en-US');

// ---- WebGPU ---------------------------------------------------------------

/**
 * Gets the device; without one, says why in a message of its own, which stays
 * while the rest of the page (data, drawing) is used.
 */
async function initGpu(): Promise<void> {
  try {
    if (!('gpu' in navigator)) {
      throw new Error(
        window.isSecureContext
          ? 'this browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+, or Chromium with --enable-unsafe-webgpu.'
          : 'WebGPU needs a secure context: open the page over https, or from localhost / 127.0.0.1.',
      );
    }
    ui.adapter.textContent = 'WebGPU adapter: requesting…';
    state.gpu = await defaultGpu();
  } catch (error) {
    console.error(error);
    ui.gpuError.textContent = `WebGPU: ${messageOf(error)}`;
    ui.gpuError.hidden = false;
    ui.adapter.textContent = 'WebGPU adapter: none';
    ui.trainAdapter.textContent = 'none: training needs WebGPU';
    ui.profileStatus.textContent = 'Profiling needs WebGPU, which this page could not get (see the message above).';
    ui.drawText.textContent = 'Draw a digit from 0 to 9. Without WebGPU there is no model to classify it, but its MNIST form is shown.';
    return;
  }
  const adapter = describeAdapter(state.gpu.adapter);
  ui.adapter.textContent = `WebGPU adapter: ${adapter}`;
  ui.trainAdapter.textContent = adapter;
  clearProfile();
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
  ui.testIndex.max = ui.insideIndex.max = String(test.count - 1);
  showSamples(ui.samples, train);
  clearResults();
  clearInside();
  clearProfile();
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

// ---- Training -------------------------------------------------------------

interface Settings {
  model: TutorialModel;
  optimizer: OptimizerConfig;
  epochs: number;
  batchSize: number;
  trainLimit?: number;
  testLimit?: number;
  seed: number;
  validate: boolean;
}

function formField(name: string): HTMLInputElement | HTMLSelectElement {
  return ui.trainForm.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
}

function field(name: string): string {
  return formField(name).value.trim();
}

function integer(name: string, label: string, min: number): number | undefined {
  const text = field(name);
  if (text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${label} must be a whole number >= ${min}, got '${text}'`);
  return value;
}

const OPTIMIZERS: readonly OptimizerKind[] = ['sgd', 'momentum', 'rmsprop', 'adam'];

function readSettings(): Settings {
  const model = field('model');
  if (model !== 'cnn' && model !== 'mlp') throw new Error(`unknown model '${model}'`);
  const kind = field('optimizer') as OptimizerKind;
  if (!OPTIMIZERS.includes(kind)) throw new Error(`unknown optimizer '${kind}'`);
  const learningRate = Number(field('learningRate'));
  return {
    model,
    // It checks the learning rate and names the optimizer in its error.
    optimizer: optimizerConfig(kind, { learningRate }),
    epochs: need(integer('epochs', 'Epochs', 1), 'Epochs is required'),
    batchSize: need(integer('batchSize', 'Batch size', 1), 'Batch size is required'),
    trainLimit: integer('trainLimit', 'Training images', 1),
    testLimit: integer('testLimit', 'Test images', 1),
    seed: integer('seed', 'Seed', 0) ?? Math.floor(Math.random() * 2 ** 31),
    validate: (formField('validate') as HTMLInputElement).checked,
  };
}

/** The first `limit` examples of a dataset (all of them without a limit). */
function take(data: Dataset, limit: number | undefined): { x: Uint8Array; y: Uint8Array; count: number } {
  const n = Math.min(limit ?? data.count, data.count);
  // The pixels as bytes: the model keeps them on the GPU as bytes, a quarter of their floats.
  return { x: data.pixels.subarray(0, n * data.height * data.width), y: data.labels.subarray(0, n), count: n };
}

function setModel(model: Model, name: string): void {
  if (state.model !== model) state.model?.destroy();
  state.model = model;
  state.modelName = name;
  ui.modelName.textContent = `Model: ${name}, ${count(model.paramCount)} parameters.`;
  ui.summary.textContent = model.summary();
  clearResults();
  clearInside();
  clearProfile();
}

/**
 * The live figures: where training is, and its speed over the `rate` given
 * (`ms` of wall time, less any pause, for `steps` steps of `images` images), if known yet.
 */
function showLive(where: string, rate?: { ms: number; steps: number; images: number }): void {
  ui.liveStep.textContent = where;
  if (!rate || rate.steps === 0) return;
  const msPerStep = rate.ms / rate.steps;
  ui.liveMs.textContent = msPerStep.toFixed(msPerStep >= 10 ? 0 : 1);
  ui.liveRate.textContent = count(Math.round(rate.images / (rate.ms / 1000)));
}

function clearLive(): void {
  ui.liveStep.textContent = ui.liveMs.textContent = ui.liveRate.textContent = '—';
}

const figure = (value: number | undefined) => (value === undefined ? '—' : value.toFixed(4));

/** A row of the epoch table: the epoch mean beside what Keras prints, and the validation figures. */
function addEpochRow(epoch: number, steps: number, images: number, logs: EpochLogs): void {
  const row = ui.epochs.tBodies[0].insertRow();
  const cells: [string, string][] = [
    ['epoch', String(epoch + 1)],
    ['steps', logs.steps === steps ? String(steps) : `${logs.steps} of ${steps} (stopped)`],
    ['ms-per-step', logs.msPerStep.toFixed(logs.msPerStep >= 10 ? 0 : 1)],
    ['images-per-second', count(Math.round(images / ((logs.msPerStep * logs.steps) / 1000)))],
    ['accuracy-mean', figure(logs.logs.accuracy)],
    ['accuracy-keras', figure(logs.printed.accuracy)],
    ['loss-mean', figure(logs.logs.loss)],
    ['loss-keras', figure(logs.printed.loss)],
    ['val-accuracy', figure(logs.logs.val_accuracy)],
    ['val-loss', figure(logs.logs.val_loss)],
  ];
  for (const [name, text] of cells) {
    const cell = row.insertCell();
    cell.dataset.figure = name;
    cell.textContent = text;
  }
  ui.epochs.hidden = false;
}

/** A promise that resolves when Resume or Stop is pressed: fit waits on it. */
function pauseTraining(training: Training, where: string, onResume: (pausedMs: number) => void): Promise<void> {
  const started = performance.now();
  training.pausing = false;
  ui.trainStatus.textContent = `Paused at ${where}.`;
  return new Promise((resolve) => {
    training.resume = () => {
      training.resume = undefined;
      onResume(performance.now() - started);
      ui.trainStatus.textContent = training.stopping ? 'Stopping…' : 'Training…';
      refresh();
      resolve();
    };
    refresh();
  });
}

/** Trains with the form's settings; from a checkpoint file saved by the page (same settings) when `resumeFrom` is given. */
async function train(settings: Settings, resumeFrom?: { bytes: Uint8Array; source: string }): Promise<void> {
  const gpu = need(state.gpu, 'no WebGPU device');
  const mnist = need(state.mnist, 'load MNIST first');
  const { epochs, batchSize } = settings;
  const model = tutorialModel(settings.model, mnist.train.classes);
  const recreateGpu = async () => (state.gpu = await freshGpu());
  model.compile({ optimizer: settings.optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed: settings.seed, gpu, recreateGpu });
  setModel(model, settings.model);

  const data = take(mnist.train, settings.trainLimit);
  const validation = settings.validate ? take(mnist.test, settings.testLimit) : undefined;
  const steps = Math.ceil(data.count / batchSize);
  const { kind, learningRate } = settings.optimizer;
  log.clear();
  log.line(`${settings.model}: ${count(data.count)} training images, batch size ${batchSize}, ${kind} (learning rate ${learningRate}), seed ${settings.seed}`);
  if (resumeFrom) log.line(`Resuming from ${resumeFrom.source}`);
  else log.line(`Epoch 1/${epochs}`);
  ui.chartBox.hidden = false;
  chart.reset(epochs);
  ui.epochs.tBodies[0].replaceChildren();
  ui.epochs.hidden = true;
  ui.testResult.textContent = 'Training…';
  ui.trainStatus.textContent = 'Training…';

  const training: Training = { model, pausing: false, stopping: false };
  state.training = training;
  refresh();
  clearLive();
  const imagesIn = (stepsDone: number) => Math.min(stepsDone * batchSize, data.count);
  // The log counts from when fit was called; the live speed from a mark, with the time paused since each.
  let epochStart = performance.now();
  let pausedInEpoch = 0;
  // The start of an epoch from the second on; in the first, its first progress update, as fit's set-up
  // (compiling the pipelines) comes before its first step and would skew the speed.
  let mark: { time: number; step: number } | undefined;
  let pausedSinceMark = 0;
  try {
    await model.fit(data.x, data.y, {
      epochs,
      batchSize,
      validationData: validation && [validation.x, validation.y],
      resumeFrom,
      checkpoint: {
        everyEpoch: true,
        write: async (bytes, info) => {
          state.checkpoint = { bytes, name: `${settings.model}-epoch${info.epoch}.checkpoint.safetensors` };
        },
      },
      // A lost device (a driver reset) is replaced and training goes on from the last epoch's end, twice at most.
      deviceLossRetries: 2,
      onDeviceLost: (loss) => {
        const what = `The GPU device was lost in epoch ${loss.epoch + 1} (${loss.reason}: ${loss.message})`;
        const next = loss.resumedAt ? `training recovered on a new device from epoch ${loss.resumedAt.epoch + 1}, step ${loss.resumedAt.step}.` : 'training stopped.';
        log.line(`${what}; ${next}`);
        ui.trainStatus.textContent = `Device lost; ${next}`;
      },
      callbacks: {
        onTrainBatchEnd: (step, logs, { epoch, printed }) => {
          const done = step + 1;
          const now = performance.now();
          log.progress(done, steps, now - epochStart - pausedInEpoch, { logs, printed });
          chart.add(epoch, done, steps, logs);
          const where = `${done}/${steps} of epoch ${epoch + 1}/${epochs}`;
          if (mark) {
            showLive(where, { ms: now - mark.time - pausedSinceMark, steps: done - mark.step, images: imagesIn(done) - imagesIn(mark.step) });
          } else {
            showLive(where);
            mark = { time: now, step: done };
            pausedSinceMark = 0;
          }
          if (training.pausing && !training.stopping) {
            return pauseTraining(training, `step ${done}/${steps} of epoch ${epoch + 1}`, (ms) => {
              pausedInEpoch += ms;
              pausedSinceMark += ms;
            });
          }
        },
        onEpochEnd: (epoch, logs, details) => {
          const images = Math.min(details.steps * batchSize, data.count);
          log.progress(details.steps, steps, details.msPerStep * details.steps, details, true);
          addEpochRow(epoch, steps, images, details);
          if (logs.val_loss !== undefined && logs.val_accuracy !== undefined) {
            chart.addValidation(epoch, logs.val_loss, logs.val_accuracy);
            log.line(`val_accuracy: ${logs.val_accuracy.toFixed(4)} - val_loss: ${logs.val_loss.toFixed(4)}`);
          }
          if (training.stopping) log.line(`Stopped after ${details.steps} of ${steps} steps.`);
          else if (epoch + 1 < epochs) log.line(`Epoch ${epoch + 2}/${epochs}`);
          epochStart = performance.now();
          pausedInEpoch = 0;
          mark = { time: epochStart, step: 0 };
          pausedSinceMark = 0;
        },
      },
    });
  } finally {
    state.training = undefined;
    ui.trainStatus.textContent = training.stopping ? 'Stopped.' : 'Done.';
  }
  const { loss, accuracy } = await evaluate(batchSize, settings.testLimit);
  log.line(`test loss: ${loss.toFixed(4)} - test accuracy: ${accuracy.toFixed(4)}`);
}

function pause(): void {
  if (!state.training) return;
  state.training.pausing = true;
  ui.trainStatus.textContent = 'Pausing at the next progress update…';
  refresh();
}

function stop(): void {
  const training = state.training;
  if (!training) return;
  training.stopping = true;
  training.model.stopTraining = true;
  ui.trainStatus.textContent = 'Stopping after the steps already submitted…';
  training.resume?.();
  refresh();
}

/** The learning rate field follows the optimizer: Keras' default for each. */
function optimizerChanged(): void {
  formField('learningRate').value = String(optimizerConfig(field('optimizer') as OptimizerKind).learningRate);
}

// ---- Results --------------------------------------------------------------

/** Empties the Results view (when the data or the model changes). */
function clearResults(): void {
  ui.testResult.textContent = state.model
    ? 'Evaluate the model on the test set, or predict a test image.'
    : 'Train or load a model, then evaluate it on the test set.';
  state.predictions = undefined;
  state.gallery = { limit: GALLERY_PAGE };
  const placeholder = document.createElement('p');
  placeholder.className = 'muted';
  placeholder.textContent = 'Evaluate a model to see it: a row per true label, a column per prediction.';
  ui.confusion.replaceChildren(placeholder);
  ui.galleryBox.hidden = true;
  ui.gallery.replaceChildren();
  ui.galleryStatus.textContent = '';
  ui.galleryAll.hidden = ui.galleryMore.hidden = true;
  ui.predictionText.textContent = '';
  ui.bars.replaceChildren();
  ui.testImage.hidden = true;
}

/**
 * Loss and accuracy over the first `testLimit` test images, their predictions
 * as a confusion matrix and a gallery, then the chosen test image and the view inside the model.
 */
async function evaluate(batchSize: number, testLimit: number | undefined): Promise<Logs> {
  const model = need(state.model, 'train or load a model first');
  const test = need(state.mnist, 'load MNIST first').test;
  const data = take(test, testLimit);
  ui.testResult.textContent = `Evaluating on ${count(data.count)} test images…`;
  const { loss, accuracy } = await model.evaluate(data.x, data.y, { batchSize });
  const probabilities = await model.predict(data.x, { batchSize });
  state.predictions = predictionsOf(probabilities, data.y, model.outputShape[0]);
  state.gallery = { limit: GALLERY_PAGE };
  showConfusion(ui.confusion, state.predictions, (label, predicted) => {
    state.gallery = { only: { label, predicted }, limit: GALLERY_PAGE };
    showTestImages();
  });
  showTestImages();
  ui.galleryBox.hidden = false;
  ui.testResult.textContent = `${state.modelName}: test loss ${loss.toFixed(4)} - test accuracy ${accuracy.toFixed(4)} (${count(data.count)} test images)`;
  // The views that show the model at work follow it.
  await predict();
  await inside();
  await classifyDrawing();
  return { loss, accuracy };
}

/** The gallery of test images in the chosen order (of one confusion cell, if one was clicked). */
function showTestImages(): void {
  const p = state.predictions;
  if (!p) return;
  const test = need(state.mnist, 'load MNIST first').test;
  const { only, limit } = state.gallery;
  const indices = sortedIndices(p, ui.galleryOrder.value as Order, only);
  showGallery(ui.gallery, test, p, indices, limit);
  let mistakes = 0;
  for (let i = 0; i < p.count; i++) if (p.labels[i] !== p.predicted[i]) mistakes++;
  const which = only ? `True ${only.label}, predicted ${only.predicted}` : `${count(mistakes)} mistakes (in red) in ${count(p.count)} test images`;
  ui.galleryStatus.textContent = `${which}: showing ${count(Math.min(limit, indices.length))} of ${count(indices.length)}, each captioned "prediction · its probability (true label, if wrong)".`;
  ui.galleryAll.hidden = !only;
  ui.galleryMore.hidden = indices.length <= limit;
}

/** The test image whose index `input` holds, drawn into `canvas`. */
function chosenTestImage(input: HTMLInputElement, canvas: HTMLCanvasElement): { index: number; pixels: Float32Array; label: number } {
  const test = need(state.mnist, 'load MNIST first').test;
  const index = Number(input.value);
  if (!Number.isInteger(index) || index < 0 || index >= test.count) {
    throw new Error(`test image must be a whole number from 0 to ${test.count - 1}, got '${input.value}'`);
  }
  const pixels = imageOf(test, index);
  digitCanvas(pixels, test.width, test.height, canvas);
  canvas.hidden = false;
  return { index, pixels, label: test.labels[index] };
}

/** The chosen test image, its probabilities as bars, their argmax and the true label. */
async function predict(): Promise<void> {
  const model = need(state.model, 'train or load a model first');
  const { index, pixels, label } = chosenTestImage(ui.testIndex, ui.testImage);
  const probabilities = await model.predict(pixels);
  const argmax = showProbabilities(ui.bars, probabilities, label);
  const verdict = argmax === label ? 'right' : 'wrong';
  ui.predictionText.textContent = `Test image ${index}: argmax ${argmax} (p = ${probabilities[argmax].toFixed(4)}), true label ${label}: ${verdict}.`;
  ui.predictionText.className = verdict;
}

// ---- Inside the model -----------------------------------------------------

function clearInside(): void {
  ui.insideView.replaceChildren();
  ui.insideImage.hidden = true;
  ui.insideStatus.textContent = state.model
    ? 'Choose a test image and show what the model makes of it.'
    : 'Train or load a model to see its filters and feature maps.';
}

/** The first convolution's filters and the feature maps for the chosen test image. */
async function inside(): Promise<void> {
  const model = need(state.model, 'train or load a model first');
  const { index, pixels, label } = chosenTestImage(ui.insideIndex, ui.insideImage);
  const shown = await showInside(ui.insideView, model, pixels);
  ui.insideStatus.textContent = shown
    ? `${state.modelName} on test image ${index} (label ${label}): the first convolution's filters, then what each convolution and pooling layer outputs.`
    : `${state.modelName} has no convolution layers: it flattens the image straight into dense layers, so it has no filters or feature maps to show. Train the cnn to see them.`;
}

// ---- Draw a digit ---------------------------------------------------------

/** The drawing in MNIST's form (shown beside the pad), or null for a blank pad. */
function drawnInput(): Float32Array | null {
  const { values, width, height } = pad.ink();
  const input = mnistInput(values, width, height);
  ui.drawBars.replaceChildren();
  ui.padInput.hidden = !input;
  if (input) digitCanvas(input, MNIST_SIDE, MNIST_SIDE, ui.padInput);
  else ui.drawText.textContent = 'Draw a digit from 0 to 9.';
  return input;
}

/** The drawing classified by the model, if there is a model (and a drawing). */
async function classifyDrawing(): Promise<void> {
  const input = drawnInput();
  if (!input) return;
  const model = state.model;
  if (!model) {
    ui.drawText.textContent = state.gpu ? 'Train or load a model to classify the drawing.' : 'Without WebGPU there is no model to classify the drawing.';
    return;
  }
  const probabilities = await model.predict(input);
  const best = showProbabilities(ui.drawBars, probabilities);
  ui.drawText.textContent = `Looks like a ${best} (p = ${probabilities[best].toFixed(4)}) to ${state.modelName}.`;
}

/** After each stroke; while the model trains, the drawing is only shown (a new model classifies it when evaluated). */
function strokeEnded(): void {
  if (!state.busy) {
    void action('Classifying the drawing', classifyDrawing);
  } else if (drawnInput()) {
    ui.drawText.textContent = 'The model is busy: the drawing is classified at the next evaluation, or the next stroke.';
  }
}

function clearDrawing(): void {
  pad.clear();
  drawnInput();
}

// ---- Profile ----------------------------------------------------------------

function clearProfile(): void {
  state.profileChart?.destroy();
  state.profileChart = undefined;
  ui.profilePlot.hidden = true;
  ui.profileTable.replaceChildren();
  if (!state.gpu) return;
  ui.profileStatus.textContent = !state.gpu.timestamps
    ? `This adapter (${describeAdapter(state.gpu.adapter)}) has no 'timestamp-query' feature, so the page cannot time kernels on the GPU. ` +
      'The benchmark page times them another way: by the wall time of many submissions.'
    : state.model && state.mnist
      ? `Times each kernel of one training step of ${state.modelName} on the first batch of the training images, with GPU timestamp queries (the model itself is not trained).`
      : 'Train or load a model, and load MNIST: one training step on the first batch of the training images is timed kernel by kernel.';
}

function positive(input: HTMLInputElement, label: string): number {
  const value = Number(input.value);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${label} must be a whole number >= 1, got '${input.value}'`);
  return value;
}

async function profile(): Promise<void> {
  const model = need(state.model, 'train or load a model first');
  const train = need(state.mnist, 'load MNIST first').train;
  const batchSize = positive(ui.profileBatch, 'Batch size');
  const repeats = positive(ui.profileRepeats, 'Repeats');
  clearProfile();
  const data = take(train, batchSize);
  ui.profileStatus.textContent = `Profiling ${state.modelName} at batch ${data.count}, ${repeats} steps…`;
  const { kernels, roundingMs } = await model.profile(data.x, data.y, { batchSize, repeats });
  const total = kernels.reduce((sum, k) => sum + k.ms.median, 0);
  const rounding = roundingMs
    ? ` This browser rounds GPU timestamps to ${+(roundingMs * 1000).toPrecision(3)} µs, so a shorter kernel reads as 0 or one step (its mean over the repeats is still sound); Chromium started with --enable-webgpu-developer-features does not round them.`
    : '';
  ui.profileStatus.textContent =
    `${kernels.length} kernels of one training step of ${state.modelName} at batch ${data.count}, median GPU time over ${repeats} steps after an untimed one: ` +
    `${total.toFixed(3)} ms in all.${rounding}`;
  ui.profileTable.replaceChildren(profileTable(kernels));
  ui.profilePlot.hidden = false;
  // Tall enough for a readable bar per kernel.
  ui.profilePlot.style.height = `${Math.max(240, 22 * kernels.length + 60)}px`;
  state.profileChart = profileChart(ui.profileChart, kernels);
}

// ---- Saving and loading ---------------------------------------------------

const OCTETS = 'application/octet-stream';

async function save(): Promise<void> {
  download(await need(state.model, 'train or load a model first').toBytes(), `${state.modelName}.safetensors`, OCTETS);
}

/** The model for PyTorch (see the README's "When one machine is not enough"): the export's files in one zip. */
async function exportTorch(): Promise<void> {
  const files = await torchFiles(need(state.model, 'train or load a model first'), state.modelName);
  download(zipSync(Object.fromEntries(files.map((f) => [`${state.modelName}-torch/${f.name}`, f.bytes]))), `${state.modelName}-torch.zip`, OCTETS);
}

async function load(file: File): Promise<void> {
  const gpu = need(state.gpu, 'no WebGPU device');
  const model = await loadModelBytes(new Uint8Array(await file.arrayBuffer()), { source: file.name, gpu, metrics: ['accuracy'] });
  setModel(model, file.name.replace(/\.safetensors$/i, ''));
  // The log, chart and figures were the previous model's training.
  log.clear();
  ui.chartBox.hidden = true;
  ui.epochs.hidden = true;
  ui.trainStatus.textContent = '';
  clearLive();
  ui.testResult.textContent = `Loaded ${file.name}: ${state.mnist ? 'evaluate it on the test set, or predict a test image.' : 'load MNIST to evaluate or predict with it.'}`;
}

// ---- Wiring ---------------------------------------------------------------

ui.dataFiles.addEventListener('change', () => {
  const files = Array.from(ui.dataFiles.files ?? []).map((file): DataFile => ({ name: file.name, read: async () => new Uint8Array(await file.arrayBuffer()) }));
  ui.dataFiles.value = '';
  void action('Loading MNIST', () => loadData(files, 'Picked files'));
});
ui.builtinLoad.addEventListener('click', () => action('Loading MNIST', () => loadData(builtInFiles(), 'MNIST')));
ui.trainForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void action('Training', () => train(readSettings()));
});
formField('optimizer').addEventListener('change', optimizerChanged);
ui.pause.addEventListener('click', pause);
ui.resume.addEventListener('click', () => state.training?.resume?.());
ui.stop.addEventListener('click', stop);
ui.saveCheckpoint.addEventListener('click', () => {
  if (state.checkpoint) download(state.checkpoint.bytes, state.checkpoint.name, OCTETS);
});
ui.resumeCheckpoint.addEventListener('change', () => {
  const file = ui.resumeCheckpoint.files?.[0];
  ui.resumeCheckpoint.value = '';
  if (file) void action('Resuming training', async () => train(readSettings(), { bytes: new Uint8Array(await file.arrayBuffer()), source: file.name }));
});
ui.evaluate.addEventListener('click', () =>
  action('Evaluating', async () => {
    await evaluate(integer('batchSize', 'Batch size', 1) ?? 128, integer('testLimit', 'Test images', 1));
  }),
);
ui.predict.addEventListener('click', () => action('Predicting', predict));
ui.galleryOrder.addEventListener('change', () => {
  state.gallery.limit = GALLERY_PAGE;
  showTestImages();
});
ui.galleryAll.addEventListener('click', () => {
  state.gallery = { limit: GALLERY_PAGE };
  showTestImages();
});
ui.galleryMore.addEventListener('click', () => {
  state.gallery.limit += GALLERY_PAGE;
  showTestImages();
});
ui.insideShow.addEventListener('click', () => action('Looking inside the model', inside));
ui.padClear.addEventListener('click', clearDrawing);
ui.profileRun.addEventListener('click', () => action('Profiling', profile));
ui.save.addEventListener('click', () => action('Saving the model', save));
ui.exportTorch.addEventListener('click', () => action('Exporting the model to PyTorch', exportTorch));
ui.loadModel.addEventListener('change', () => {
  const file = ui.loadModel.files?.[0];
  ui.loadModel.value = '';
  if (file) void action('Loading the model', () => load(file));
});
window.addEventListener('unhandledrejection', (event) => showError('Unexpected error', event.reason));
window.addEventListener('error', (event) => showError('Unexpected error', event.error ?? event.message));

refresh();
void action('WebGPU', initGpu);
