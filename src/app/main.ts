// The web page: load MNIST, train one of the tutorial's models with a live
// chart, look at its results and inside it, draw a digit for it, profile its
// step, save and load it. It calls the engine; it makes no GPU calls.
import './style.css';
import type { Chart } from 'chart.js';
import { zipSync } from 'fflate';
import {
  defaultGpu,
  describeAdapter,
  describeSetup,
  formatMs,
  freshGpu,
  loadModelBytes,
  mnistFromFiles,
  MNIST_FILES,
  MNIST_PARTS,
  MNIST_SHA256,
  optimizerConfig,
  PRECISIONS,
  runEstimator,
  torchFiles,
  tutorialModel,
  type Dataset,
  type EpochLogs,
  type Gpu,
  type Mnist,
  type MnistPart,
  type Model,
  type OptimizerConfig,
  type OptimizerKind,
  type Precision,
  type SetupProgress,
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
import { ProgressLine } from './progress';
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
  trainProgress: byId('train-progress'),
  defaultsNote: byId('defaults-note'),
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

/**
 * Where the model's set-up (compiling its kernels, timing their variants,
 * uploading data: SetupProgress) shows: the progress line of the action under
 * way, and what it says once the kernels are ready.
 */
let waiting: { line: ProgressLine; after: string } | undefined;

function showSetup(progress: SetupProgress): void {
  if (!waiting) return;
  const text = describeSetup(progress);
  waiting.line.show(progress.done === progress.total && progress.stage !== 'upload' ? waiting.after : `${text[0].toUpperCase()}${text.slice(1)}`);
}

/** Runs `body` with `line` showing `text`, then the model's set-up, then `after` once the kernels are ready; its clock stops at the end. */
async function waitingOn<T>(line: ProgressLine, { text, after }: { text: string; after: string }, body: () => Promise<T>): Promise<T> {
  const outer = waiting;
  waiting = { line, after };
  line.show(text);
  try {
    return await body();
  } finally {
    line.stop();
    waiting = outer;
  }
}

const trainProgress = new ProgressLine(ui.trainProgress);

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
  if (state.gpu.adapter.isFallbackAdapter) fitDefaultsToSoftware();
  clearProfile();
}

/**
 * On a software adapter (SwiftShader: the CPU plays the GPU) the tutorial's
 * CNN takes about 2 s a step, hours for its 5 epochs, and the dense model
 * about 22 ms (bench on 2 cores, README): the dense model is the default there, with a note saying why.
 */
function fitDefaultsToSoftware(): void {
  formField('model').value = 'mlp';
  ui.defaultsNote.textContent =
    'WebGPU runs on a software adapter here: the CPU emulates the GPU, and the CNN would take hours for 5 epochs ' +
    '(about 2 s a step of 128 images where this page was tested), so the dense model (mlp) is chosen. ' +
    'To see the CNN, choose cnn with a few thousand training images: the page tells how long a run will take once its first steps are measured.';
  ui.defaultsNote.hidden = false;
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
  precision: Precision;
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
  const precision = field('precision') as Precision;
  if (!PRECISIONS.includes(precision)) throw new Error(`unknown precision '${precision}'`);
  const learningRate = Number(field('learningRate'));
  return {
    model,
    // It checks the learning rate and names the optimizer in its error.
    optimizer: optimizerConfig(kind, { learningRate }),
    precision,
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
  if (drawnInput()) ui.drawText.textContent = `${name} classifies the drawing once it is trained or tested.`;
}

/** The live figures: where training is, and its speed (from fit: its steps' time, not the set-up before them). */
function showLive(where: string, msPerStep: number, batchSize: number): void {
  ui.liveStep.textContent = where;
  ui.liveMs.textContent = msPerStep.toFixed(msPerStep >= 10 ? 0 : 1);
  ui.liveRate.textContent = count(Math.round((batchSize * 1000) / msPerStep));
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

/** A promise that resolves when Resume or Stop is pressed: fit waits on it (and counts the wait out of its speed). */
function pauseTraining(training: Training, where: string): Promise<void> {
  training.pausing = false;
  ui.trainStatus.textContent = `Paused at ${where}.`;
  return new Promise((resolve) => {
    training.resume = () => {
      training.resume = undefined;
      ui.trainStatus.textContent = training.stopping ? 'Stopping…' : 'Training…';
      refresh();
      resolve();
    };
    refresh();
  });
}

/** Trains with the form's settings; from a checkpoint file saved by the page (same settings) when `resumeFrom` is given. Then tests the model. */
async function train(settings: Settings, resumeFrom?: { bytes: Uint8Array; source: string }): Promise<void> {
  const mnist = need(state.mnist, 'load MNIST first');
  const { epochs, batchSize } = settings;
  const training: Training = { model: tutorialModel(settings.model, mnist.train.classes), pausing: false, stopping: false };
  state.training = training;
  clearLive();
  ui.trainStatus.textContent = 'Training…';
  refresh();
  try {
    await waitingOn(trainProgress, { text: `Building ${settings.model}…`, after: 'Running the first steps…' }, () => fitModel(training, settings, resumeFrom));
    if (training.stopping) {
      // Stop means now: no test either.
      trainProgress.stop('Stopped: Evaluate tests the model as it is.');
      ui.testResult.textContent = `${state.modelName}: training was stopped before its test; Evaluate tests it as it is.`;
      return;
    }
    ui.trainStatus.textContent = 'Testing…';
    const tested = await evaluate(batchSize, settings.testLimit, { line: trainProgress, stopped: () => training.stopping });
    const on = `${count(tested.images)} test images`;
    if (tested.stopped) log.line(`Testing stopped after ${on}: test loss: ${tested.loss.toFixed(4)} - test accuracy: ${tested.accuracy.toFixed(4)} over those.`);
    else log.line(`test loss: ${tested.loss.toFixed(4)} - test accuracy: ${tested.accuracy.toFixed(4)} (${on})`);
    trainProgress.stop(tested.stopped ? `Testing stopped after ${on}.` : `Done: ${epochs === 1 ? 'an epoch' : `${epochs} epochs`}, then a test on ${on}.`);
  } finally {
    state.training = undefined;
    trainProgress.stop();
    ui.trainStatus.textContent = training.stopping ? 'Stopped.' : 'Done.';
  }
}

/** fit with the live figures, the log, the chart and the epoch table; the estimate of the run's length at its first progress update. */
async function fitModel(training: Training, settings: Settings, resumeFrom?: { bytes: Uint8Array; source: string }): Promise<void> {
  const gpu = need(state.gpu, 'no WebGPU device');
  const mnist = need(state.mnist, 'load MNIST first');
  const { epochs, batchSize } = settings;
  const model = training.model;
  const recreateGpu = async () => (state.gpu = await freshGpu());
  model.compile({
    optimizer: settings.optimizer,
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    seed: settings.seed,
    gpu,
    recreateGpu,
    precision: settings.precision,
    onProgress: showSetup,
    // A device without shader-f16 runs mixed precision's products in float32: said in the log, not only the console.
    onTuningNotice: (message) => log.line(message),
  });
  setModel(model, settings.model);

  const data = take(mnist.train, settings.trainLimit);
  const validation = settings.validate ? take(mnist.test, settings.testLimit) : undefined;
  const steps = Math.ceil(data.count / batchSize);
  const { kind, learningRate } = settings.optimizer;
  log.clear();
  log.line(`${settings.model}: ${count(data.count)} training images, batch size ${batchSize}, ${kind} (learning rate ${learningRate}), ${settings.precision}, seed ${settings.seed}`);
  if (resumeFrom) log.line(`Resuming from ${resumeFrom.source}`);
  else log.line(`Epoch 1/${epochs}`);
  ui.chartBox.hidden = false;
  chart.reset(epochs);
  ui.epochs.tBodies[0].replaceChildren();
  ui.epochs.hidden = true;
  ui.testResult.textContent = 'Training…';
  let estimate: string | undefined;
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
    callbacks: [
      runEstimator({ epochs, steps }, (text) => {
        estimate = text;
        log.line(`${text[0].toUpperCase()}${text.slice(1)}.`);
      }),
      {
        onTrainBatchEnd: (step, logs, { epoch, printed, seconds, msPerStep }) => {
          const done = step + 1;
          log.progress(done, steps, seconds * 1000, { logs, printed });
          chart.add(epoch, done, steps, logs);
          const where = `${done}/${steps} of epoch ${epoch + 1}/${epochs}`;
          showLive(where, msPerStep, batchSize);
          trainProgress.show(`Training: step ${where}${estimate ? `; ${estimate}` : ''}`);
          if (training.pausing && !training.stopping) return pauseTraining(training, `step ${done}/${steps} of epoch ${epoch + 1}`);
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
        },
      },
    ],
  });
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
  // Training, or the test after it: each stops at its next progress update.
  training.model.stopTraining = true;
  training.model.stopEvaluating = true;
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

/** Test images predicted a call at a time: the progress shows, and Stop is heard, between calls. */
const PREDICT_CHUNK = 2048;

/**
 * Loss and accuracy over the first `testLimit` test images, their predictions
 * as a confusion matrix and a gallery, then the chosen test image and the view
 * inside the model. Its progress shows on `line`; when `stopped()` turns true
 * it stops at its next progress update, with the figures over the images tested.
 */
async function evaluate(
  batchSize: number,
  testLimit: number | undefined,
  { line, stopped }: { line: ProgressLine; stopped: () => boolean },
): Promise<{ loss: number; accuracy: number; images: number; stopped: boolean }> {
  const model = need(state.model, 'train or load a model first');
  const test = need(state.mnist, 'load MNIST first').test;
  const data = take(test, testLimit);
  const all = count(data.count);
  ui.testResult.textContent = `Testing on ${all} test images…`;
  let images = data.count;
  const probabilities = new Float32Array(data.count * model.outputShape[0]);
  const { loss, accuracy } = await waitingOn(line, { text: `Testing on ${all} test images…`, after: `Testing on ${all} test images…` }, async () => {
    const logs = await model.evaluate(data.x, data.y, {
      batchSize,
      callbacks: {
        onTestBatchEnd: (batch) => {
          // Stop may have come before evaluate began, which clears stopEvaluating.
          if (stopped()) model.stopEvaluating = true;
          images = Math.min((batch + 1) * batchSize, data.count);
          line.show(`Testing: ${count(images)} of ${all} test images`);
        },
      },
    });
    const rowSize = test.height * test.width;
    for (let start = 0; start < data.count && !stopped(); start += PREDICT_CHUNK) {
      line.show(`Predicting the test images for the confusion matrix and the gallery: ${count(start)} of ${all}`);
      const end = Math.min(start + PREDICT_CHUNK, data.count);
      probabilities.set(await model.predict(data.x.subarray(start * rowSize, end * rowSize), { batchSize }), start * model.outputShape[0]);
    }
    return logs;
  });
  if (stopped()) {
    clearResults();
    ui.testResult.textContent = `${state.modelName}: testing stopped after ${count(images)} of ${all} test images: test loss ${loss.toFixed(4)} - test accuracy ${accuracy.toFixed(4)} over those.`;
    return { loss, accuracy, images, stopped: true };
  }
  state.predictions = predictionsOf(probabilities, data.y, model.outputShape[0]);
  state.gallery = { limit: GALLERY_PAGE };
  showConfusion(ui.confusion, state.predictions, (label, predicted) => {
    state.gallery = { only: { label, predicted }, limit: GALLERY_PAGE };
    showTestImages();
  });
  showTestImages();
  ui.galleryBox.hidden = false;
  ui.testResult.textContent = `${state.modelName}: test loss ${loss.toFixed(4)} - test accuracy ${accuracy.toFixed(4)} (${all} test images)`;
  // The views that show the model at work follow it.
  await predict();
  await inside();
  await classifyDrawing();
  return { loss, accuracy, images, stopped: false };
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

const predictProgress = new ProgressLine(ui.predictionText);

/** The chosen test image, its probabilities as bars, their argmax and the true label. */
async function predict(): Promise<void> {
  const model = need(state.model, 'train or load a model first');
  const { index, pixels, label } = chosenTestImage(ui.testIndex, ui.testImage);
  const probabilities = await waitingOn(predictProgress, { text: `Predicting test image ${index}…`, after: `Predicting test image ${index}…` }, () => model.predict(pixels));
  const argmax = showProbabilities(ui.bars, probabilities, label);
  const verdict = argmax === label ? 'right' : 'wrong';
  ui.predictionText.textContent = `Test image ${index}: argmax ${argmax} (p = ${probabilities[argmax].toFixed(4)}), true label ${label}: ${verdict}.`;
  ui.predictionText.className = verdict;
}

// ---- Inside the model -----------------------------------------------------

const insideProgress = new ProgressLine(ui.insideStatus);

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
  const running = `Running ${state.modelName} on test image ${index}…`;
  const shown = await waitingOn(insideProgress, { text: running, after: running }, () => showInside(ui.insideView, model, pixels));
  ui.insideStatus.textContent = shown
    ? `${state.modelName} on test image ${index} (label ${label}): the first convolution's filters, then what each convolution and pooling layer outputs.`
    : `${state.modelName} has no convolution layers: it flattens the image straight into dense layers, so it has no filters or feature maps to show. Train the cnn to see them.`;
}

// ---- Draw a digit ---------------------------------------------------------

const drawProgress = new ProgressLine(ui.drawText);

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
  const probabilities = await waitingOn(drawProgress, { text: `Classifying with ${state.modelName}…`, after: `Classifying with ${state.modelName}…` }, () => model.predict(input));
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
  const profiling = `Profiling ${state.modelName} at batch ${data.count}, ${repeats} steps…`;
  const { kernels, roundingMs } = await waitingOn(new ProgressLine(ui.profileStatus), { text: profiling, after: profiling }, () => model.profile(data.x, data.y, { batchSize, repeats }));
  const total = kernels.reduce((sum, k) => sum + k.ms.median, 0);
  const rounding = roundingMs
    ? ` This browser rounds GPU timestamps to ${+(roundingMs * 1000).toPrecision(3)} µs, so a shorter kernel reads as 0 or one step (its mean over the repeats is still sound); Chromium started with --enable-webgpu-developer-features does not round them.`
    : '';
  ui.profileStatus.textContent =
    `${kernels.length} kernels of one training step of ${state.modelName} at batch ${data.count}, median GPU time over ${repeats} steps after an untimed one: ` +
    `${formatMs(total)} ms in all.${rounding}`;
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
  const model = await loadModelBytes(new Uint8Array(await file.arrayBuffer()), { source: file.name, gpu, metrics: ['accuracy'], onProgress: showSetup });
  setModel(model, file.name.replace(/\.safetensors$/i, ''));
  // The log, chart and figures were the previous model's training.
  log.clear();
  ui.chartBox.hidden = true;
  ui.epochs.hidden = true;
  ui.trainStatus.textContent = '';
  clearLive();
  ui.testResult.textContent = `Loaded ${file.name}: ${state.mnist ? 'evaluate it on the test set, or predict a test image.' : 'load MNIST to evaluate or predict with it.'}`;
  // A drawing on the pad is the new model's to classify.
  await classifyDrawing();
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
    await evaluate(integer('batchSize', 'Batch size', 1) ?? 128, integer('testLimit', 'Test images', 1), { line: new ProgressLine(ui.testResult), stopped: () => false });
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
