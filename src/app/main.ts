// The web page: load MNIST, train one of the tutorial's models (or the
// autoencoder, or a model opened from a file: ours, or Keras' .keras and .h5)
// with a live chart, look at its results and inside it, draw a digit for it,
// profile its step, save it. It calls the engine; it makes no GPU calls.
import './style.css';
import type { Chart } from 'chart.js';
import { zipSync } from 'fflate';
import {
  cosineDecay,
  defaultGpu,
  describeAdapter,
  describeSetup,
  earlyStopping,
  expectImagesFit,
  exponentialDecay,
  formatMs,
  freshGpu,
  mnistFromFiles,
  MNIST_FILES,
  MNIST_PARTS,
  MNIST_SHA256,
  Model,
  modelFromFile,
  OPTIMIZER_KINDS,
  optimizerConfig,
  PRECISIONS,
  runEstimator,
  torchFiles,
  tutorialModel,
  tutorialRecipe,
  whyTrainingEnded,
  type Dataset,
  type EarlyStopping,
  type EpochLogs,
  type Gpu,
  type History,
  type Logs,
  type Mnist,
  type MnistPart,
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
  epochsMetric: byId('epochs-metric'),
  epochsValMetric: byId('epochs-val-metric'),
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
  reconstructionsBox: byId('reconstructions-box'),
  reconstructionsStatus: byId('reconstructions-status'),
  reconstructions: byId('reconstructions'),
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
  saveKeras: byId<HTMLButtonElement>('save-keras'),
  exportTorch: byId<HTMLButtonElement>('export-torch'),
  loadModel: byId<HTMLInputElement>('load-model'),
  modelName: byId('model-name'),
  modelStatus: byId('model-status'),
  summary: byId('summary'),
  chart: byId<HTMLCanvasElement>('chart'),
};
const log = new TrainingLog(byId('log'));
const chart = new TrainingChart(ui.chart);
const pad = new DrawingPad(ui.pad, () => strokeEnded());

/** A training run's pause and stop, driven by the buttons. */
interface Training {
  model: Model;
  /** The model's name on the page: the tutorial's, or the opened file's. */
  name: string;
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

/**
 * The code that reads and writes Keras files (and the model files it tells
 * them from), loaded when a model is first opened or saved as .keras: the page's
 * first load stays as it was, and h5wasm (about 1 MB gzipped) comes later still,
 * when a Keras file is read or written.
 */
const keras = () => import('../engine/keras');

/** A model file read by readAnyModelFile: ours, or a Keras file. */
type OpenedFile = Awaited<ReturnType<Awaited<ReturnType<typeof keras>>['readAnyModelFile']>>;

const state: {
  gpu?: Gpu;
  mnist?: Mnist;
  model?: Model;
  modelName: string;
  /** The model file opened last, which Train fine-tunes as "the opened model". */
  opened?: { file: OpenedFile; name: string; task: Task };
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
  ui.save.disabled = ui.saveKeras.disabled = ui.exportTorch.disabled = !(idle && state.model);
  ui.loadModel.disabled = !(idle && state.gpu);
  formField('model').querySelector<HTMLOptionElement>('option[value=opened]')!.disabled = !state.opened;
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
 * about 22 ms (bench on 2 cores, docs/results.md): the dense model is the default there, with a note saying why.
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

/** What a model does here: classify digits, or reconstruct the images (the autoencoder: as many outputs as pixels). */
type Task = 'classify' | 'reconstruct';

const taskOf = (outputShape: readonly number[]): Task => (outputShape.reduce((a, b) => a * b, 1) === MNIST_SIDE * MNIST_SIDE ? 'reconstruct' : 'classify');

/** How a model is compiled and trained for its task: the tutorial's recipe for a classifier (an opened one too), the Keras blog's for the autoencoder. */
const recipeOf = (task: Task) => tutorialRecipe(task === 'reconstruct' ? 'autoencoder' : 'mlp');

const SCHEDULES = ['constant', 'exponential', 'cosine'] as const;
type Schedule = (typeof SCHEDULES)[number];

/** "Validate on the last 10% of the training images": Keras' validation_split. */
const VALIDATION_SPLIT = 0.1;

interface Settings {
  model: TutorialModel | 'opened';
  optimizer: OptimizerConfig;
  schedule: Schedule;
  precision: Precision;
  epochs: number;
  batchSize: number;
  trainLimit?: number;
  testLimit?: number;
  seed: number;
  validation: 'none' | 'test' | 'split';
  /** Early stopping's patience, in epochs; undefined: no early stopping. */
  patience?: number;
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

function readSettings(): Settings {
  const model = field('model');
  if (!['cnn', 'mlp', 'autoencoder', 'opened'].includes(model)) throw new Error(`unknown model '${model}'`);
  const kind = field('optimizer') as OptimizerKind;
  if (!OPTIMIZER_KINDS.includes(kind)) throw new Error(`unknown optimizer '${kind}'`);
  const schedule = field('schedule') as Schedule;
  if (!SCHEDULES.includes(schedule)) throw new Error(`unknown schedule '${schedule}'`);
  const validation = field('validation') as Settings['validation'];
  if (!['none', 'test', 'split'].includes(validation)) throw new Error(`unknown validation data '${validation}'`);
  const patience = integer('patience', 'Early stopping patience', 0);
  if (patience !== undefined && validation === 'none') throw new Error('early stopping watches val_loss: choose data to validate on');
  const precision = field('precision') as Precision;
  if (!PRECISIONS.includes(precision)) throw new Error(`unknown precision '${precision}'`);
  const learningRate = Number(field('learningRate'));
  return {
    model: model as Settings['model'],
    // It checks the learning rate and names the optimizer in its error.
    optimizer: optimizerConfig(kind, { learningRate }),
    schedule,
    precision,
    epochs: need(integer('epochs', 'Epochs', 1), 'Epochs is required'),
    batchSize: need(integer('batchSize', 'Batch size', 1), 'Batch size is required'),
    trainLimit: integer('trainLimit', 'Training images', 1),
    testLimit: integer('testLimit', 'Test images', 1),
    seed: integer('seed', 'Seed', 0) ?? Math.floor(Math.random() * 2 ** 31),
    validation,
    patience,
  };
}

/**
 * The optimizer of the form, its learning rate decayed by the schedule chosen
 * over a run of `epochs` of `steps` steps (the rate is computed on the GPU from the step).
 */
function optimizerOf({ optimizer, schedule, epochs }: Settings, steps: number): OptimizerConfig {
  const initialLearningRate = optimizer.learningRate as number;
  if (schedule === 'constant') return optimizer;
  const learningRate =
    schedule === 'exponential'
      ? exponentialDecay({ initialLearningRate, decaySteps: steps, decayRate: 0.9 })
      : cosineDecay({ initialLearningRate, decaySteps: steps * epochs });
  return optimizerConfig(optimizer.kind, { learningRate });
}

/**
 * The first `limit` examples of a dataset (all of them without a limit), with
 * what the model is to output for them: their labels, or the images themselves.
 */
function take(data: Dataset, limit: number | undefined, targets: 'labels' | 'images'): { x: Uint8Array; y: Uint8Array; count: number } {
  const n = Math.min(limit ?? data.count, data.count);
  // The pixels as bytes: the model keeps them on the GPU as bytes, a quarter of their floats (image targets too).
  const x = data.pixels.subarray(0, n * data.height * data.width);
  return { x, y: targets === 'images' ? x : data.labels.subarray(0, n), count: n };
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

/** The figures of `logs` as `loss 0.1234 - accuracy 0.9650` (`separator` ': ' for the log's `loss: 0.1234`), the loss first. */
function figures(logs: Logs, { prefix = '', separator = ' ' } = {}): string {
  const names = ['loss', ...Object.keys(logs).filter((name) => name !== 'loss').sort()];
  return names.map((name) => `${prefix}${name}${separator}${logs[name].toFixed(4)}`).join(' - ');
}

/** A row of the epoch table: the epoch mean beside what Keras prints, the validation figures, and the learning rate at the epoch's end. */
function addEpochRow(epoch: number, { steps, images, metric, rate }: { steps: number; images: number; metric: string; rate: number }, logs: EpochLogs): void {
  const row = ui.epochs.tBodies[0].insertRow();
  const cells: [string, string][] = [
    ['epoch', String(epoch + 1)],
    ['steps', logs.steps === steps ? String(steps) : `${logs.steps} of ${steps} (stopped)`],
    ['ms-per-step', logs.msPerStep.toFixed(logs.msPerStep >= 10 ? 0 : 1)],
    ['images-per-second', count(Math.round(images / ((logs.msPerStep * logs.steps) / 1000)))],
    [`${metric}-mean`, figure(logs.logs[metric])],
    [`${metric}-keras`, figure(logs.printed[metric])],
    ['loss-mean', figure(logs.logs.loss)],
    ['loss-keras', figure(logs.printed.loss)],
    [`val-${metric}`, figure(logs.logs[`val_${metric}`])],
    ['val-loss', figure(logs.logs.val_loss)],
    ['learning-rate', rate.toPrecision(4)],
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
  const opened = settings.model === 'opened' ? need(state.opened, 'open a model first (in 7. Open and save)') : undefined;
  const model = opened ? new Model(opened.file.layers, opened.file.inputShape) : tutorialModel(settings.model as TutorialModel, mnist.train.classes);
  const training: Training = { model, name: opened?.name ?? settings.model, pausing: false, stopping: false };
  state.training = training;
  clearLive();
  ui.trainStatus.textContent = 'Training…';
  refresh();
  try {
    const { history, stopper } = await waitingOn(trainProgress, { text: `Building ${training.name}…`, after: 'Running the first steps…' }, () =>
      fitModel(training, settings, resumeFrom),
    );
    if (training.stopping) {
      // Stop means now: no test either.
      trainProgress.stop('Stopped: Evaluate tests the model as it is.');
      ui.testResult.textContent = `${state.modelName}: training was stopped before its test; Evaluate tests it as it is.`;
      return;
    }
    const ended = stopper ? whyTrainingEnded(history, { epochs, stopper }) : epochs === 1 ? 'an epoch' : `${epochs} epochs`;
    if (stopper) log.line(`${ended[0].toUpperCase()}${ended.slice(1)}.`);
    ui.trainStatus.textContent = 'Testing…';
    const tested = await evaluate(batchSize, settings.testLimit, { line: trainProgress, stopped: () => training.stopping });
    const on = `${count(tested.images)} test images`;
    if (tested.stopped) log.line(`Testing stopped after ${on}: ${figures(tested.logs, { prefix: 'test ', separator: ': ' })} over those.`);
    else log.line(`${figures(tested.logs, { prefix: 'test ', separator: ': ' })} (${on})`);
    trainProgress.stop(tested.stopped ? `Testing stopped after ${on}.` : `Done: ${ended}, then a test on ${on}.`);
  } finally {
    state.training = undefined;
    trainProgress.stop();
    ui.trainStatus.textContent = training.stopping ? 'Stopped.' : 'Done.';
  }
}

const SCHEDULE_NAMES: Record<Schedule, string> = { constant: '', exponential: ', decayed x0.9 each epoch', cosine: ', cosine decay to 0 over the run' };

/**
 * fit with the live figures, the log, the chart and the epoch table; the
 * estimate of the run's length at its first progress update; early stopping if
 * asked for. Returns fit's History and the early stopping callback.
 */
async function fitModel(training: Training, settings: Settings, resumeFrom?: { bytes: Uint8Array; source: string }): Promise<{ history: History; stopper?: EarlyStopping }> {
  const gpu = need(state.gpu, 'no WebGPU device');
  const mnist = need(state.mnist, 'load MNIST first');
  const { epochs, batchSize, patience } = settings;
  const { model, name } = training;
  const recipe = recipeOf(taskOf(model.outputShape));
  const [metric] = recipe.metrics;
  const data = take(mnist.train, settings.trainLimit, recipe.targets);
  const validation = settings.validation === 'test' ? take(mnist.test, settings.testLimit, recipe.targets) : undefined;
  const validationSplit = settings.validation === 'split' ? VALIDATION_SPLIT : undefined;
  // Keras' split: the last rows validate, the first floor((1 - split) * count) train.
  const steps = Math.ceil((validationSplit ? Math.floor(data.count * (1 - validationSplit)) : data.count) / batchSize);
  const recreateGpu = async () => (state.gpu = await freshGpu());
  const optimizer = optimizerOf(settings, steps);
  model.compile({
    optimizer,
    loss: recipe.loss,
    metrics: recipe.metrics,
    seed: settings.seed,
    gpu,
    recreateGpu,
    precision: settings.precision,
    onProgress: showSetup,
    // A device without shader-f16 runs mixed precision's products in float32: said in the log, not only the console.
    onTuningNotice: (message) => log.line(message),
  });
  // Fine-tuning starts from the opened file's weights.
  if (settings.model === 'opened') await model.setWeights(need(state.opened, 'open a model first').file.weights);
  setModel(model, name);

  const { kind } = optimizer;
  log.clear();
  const validated = validation ? `, validating on ${count(validation.count)} test images` : validationSplit ? ', validating on the last 10% of them' : '';
  log.line(
    `${name}: ${count(data.count)} training images${validated}, batch size ${batchSize}, ${kind} (learning rate ${settings.optimizer.learningRate}${SCHEDULE_NAMES[settings.schedule]}), ${settings.precision}, seed ${settings.seed}`,
  );
  if (resumeFrom) log.line(`Resuming from ${resumeFrom.source}`);
  else log.line(`Epoch 1/${epochs}`);
  ui.chartBox.hidden = false;
  chart.reset(epochs, metric);
  ui.epochs.tBodies[0].replaceChildren();
  ui.epochs.hidden = true;
  ui.epochsMetric.textContent = metric;
  ui.epochsValMetric.textContent = metric;
  ui.testResult.textContent = 'Training…';
  let estimate: string | undefined;
  const stopper = patience === undefined ? undefined : earlyStopping({ monitor: 'val_loss', patience, restoreBestWeights: true });
  const history = await model.fit(data.x, data.y, {
    epochs,
    batchSize,
    validationData: validation && [validation.x, validation.y],
    validationSplit,
    resumeFrom,
    checkpoint: {
      everyEpoch: true,
      write: async (bytes, info) => {
        state.checkpoint = { bytes, name: `${name}-epoch${info.epoch}.checkpoint.safetensors` };
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
      ...(stopper ? [stopper] : []),
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
        onEpochEnd: async (epoch, logs, details) => {
          const images = Math.min(details.steps * batchSize, data.count);
          log.progress(details.steps, steps, details.msPerStep * details.steps, details, true);
          addEpochRow(epoch, { steps, images, metric, rate: await model.readLearningRate() }, details);
          if (logs.val_loss !== undefined) {
            chart.addValidation(epoch, logs);
            const names = Object.keys(logs).filter((n) => n.startsWith('val_'));
            log.line(names.sort().map((n) => `${n}: ${logs[n].toFixed(4)}`).join(' - '));
          }
          if (training.stopping) log.line(`Stopped after ${details.steps} of ${steps} steps.`);
          else if (epoch + 1 < epochs) log.line(`Epoch ${epoch + 2}/${epochs}`);
        },
      },
    ],
  });
  return { history, stopper };
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

/**
 * The optimizer, learning rate and batch size follow the model: its recipe (the
 * tutorial's for a classifier, the Keras blog's for the autoencoder).
 */
function modelChanged(): void {
  const model = field('model');
  const recipe = recipeOf(model === 'autoencoder' ? 'reconstruct' : model === 'opened' && state.opened ? state.opened.task : 'classify');
  formField('optimizer').value = recipe.optimizer;
  formField('batchSize').value = String(recipe.batchSize);
  optimizerChanged();
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
  placeholder.textContent =
    state.model && taskOf(state.model.outputShape) === 'reconstruct'
      ? 'An autoencoder has no classes: evaluate it to see test images next to its reconstructions, below.'
      : 'Evaluate a model to see it: a row per true label, a column per prediction.';
  ui.confusion.replaceChildren(placeholder);
  ui.galleryBox.hidden = ui.reconstructionsBox.hidden = true;
  ui.gallery.replaceChildren();
  ui.reconstructions.replaceChildren();
  ui.galleryStatus.textContent = '';
  ui.galleryAll.hidden = ui.galleryMore.hidden = true;
  ui.predictionText.textContent = '';
  ui.bars.replaceChildren();
  ui.testImage.hidden = true;
}

/** Test images predicted a call at a time: the progress shows, and Stop is heard, between calls. */
const PREDICT_CHUNK = 2048;
/** Test images the Results view shows next to the autoencoder's reconstructions. */
const RECONSTRUCTIONS = 24;

/**
 * The figures over the first `testLimit` test images (loss and accuracy, or
 * the autoencoder's loss and mse), a classifier's predictions as a confusion
 * matrix and a gallery or the autoencoder's reconstructions, then the chosen
 * test image, the view inside the model and the drawing. Its progress shows on
 * `line`; when `stopped()` turns true it stops at its next progress update,
 * with the figures over the images tested.
 */
async function evaluate(
  batchSize: number,
  testLimit: number | undefined,
  { line, stopped }: { line: ProgressLine; stopped: () => boolean },
): Promise<{ logs: Logs; images: number; stopped: boolean }> {
  const model = need(state.model, 'train or load a model first');
  const test = need(state.mnist, 'load MNIST first').test;
  const task = taskOf(model.outputShape);
  const data = take(test, testLimit, recipeOf(task).targets);
  const all = count(data.count);
  ui.testResult.textContent = `Testing on ${all} test images…`;
  let images = data.count;
  const outputs = model.outputShape.reduce((a, b) => a * b, 1);
  // A classifier's every prediction (for the confusion matrix), the autoencoder's first few reconstructions.
  const predicted = task === 'classify' ? data.count : Math.min(RECONSTRUCTIONS, data.count);
  const values = new Float32Array(predicted * outputs);
  const logs = await waitingOn(line, { text: `Testing on ${all} test images…`, after: `Testing on ${all} test images…` }, async () => {
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
    for (let start = 0; start < predicted && !stopped(); start += PREDICT_CHUNK) {
      if (task === 'classify') line.show(`Predicting the test images for the confusion matrix and the gallery: ${count(start)} of ${all}`);
      else line.show(`Reconstructing the first ${predicted} test images…`);
      const end = Math.min(start + PREDICT_CHUNK, predicted);
      values.set(await model.predict(data.x.subarray(start * rowSize, end * rowSize), { batchSize }), start * outputs);
    }
    return logs;
  });
  if (stopped()) {
    clearResults();
    ui.testResult.textContent = `${state.modelName}: testing stopped after ${count(images)} of ${all} test images: ${figures(logs, { prefix: 'test ' })} over those.`;
    return { logs, images, stopped: true };
  }
  if (task === 'classify') {
    state.predictions = predictionsOf(values, data.y, model.outputShape[0]);
    state.gallery = { limit: GALLERY_PAGE };
    showConfusion(ui.confusion, state.predictions, (label, predicted) => {
      state.gallery = { only: { label, predicted }, limit: GALLERY_PAGE };
      showTestImages();
    });
    showTestImages();
    ui.galleryBox.hidden = false;
  } else {
    showReconstructions(values, predicted);
  }
  ui.testResult.textContent = `${state.modelName}: ${figures(logs, { prefix: 'test ' })} (${all} test images)`;
  // The views that show the model at work follow it.
  await predict();
  await inside();
  await classifyDrawing();
  return { logs, images, stopped: false };
}

/** The first `shown` test images, each above its reconstruction (`values`, the autoencoder's outputs for them). */
function showReconstructions(values: Float32Array, shown: number): void {
  const test = need(state.mnist, 'load MNIST first').test;
  const size = test.height * test.width;
  ui.reconstructions.replaceChildren(
    ...Array.from({ length: shown }, (_, i) => {
      const figure = document.createElement('figure');
      const output = values.subarray(i * size, (i + 1) * size);
      const caption = document.createElement('figcaption');
      caption.textContent = `mse ${meanSquaredError(imageOf(test, i), output).toFixed(3)}`;
      figure.title = `test image ${i} (label ${test.labels[i]}) and its reconstruction`;
      figure.append(digitCanvas(imageOf(test, i), test.width, test.height), digitCanvas(output, test.width, test.height), caption);
      return figure;
    }),
  );
  ui.reconstructionsStatus.textContent = `The first ${shown} test images, each above ${state.modelName}'s reconstruction of it, with their mean squared error.`;
  ui.reconstructionsBox.hidden = false;
}

/** The mean squared error between an image and its reconstruction, as Keras' mse. */
function meanSquaredError(image: ArrayLike<number>, reconstruction: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < image.length; i++) sum += (image[i] - reconstruction[i]) ** 2;
  return sum / image.length;
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

/** The chosen test image, and a classifier's probabilities as bars (their argmax and the true label) or the autoencoder's reconstruction. */
async function predict(): Promise<void> {
  const model = need(state.model, 'train or load a model first');
  const { index, pixels, label } = chosenTestImage(ui.testIndex, ui.testImage);
  const output = await waitingOn(predictProgress, { text: `Predicting test image ${index}…`, after: `Predicting test image ${index}…` }, () => model.predict(pixels));
  if (taskOf(model.outputShape) === 'reconstruct') {
    const reconstruction = digitCanvas(output, MNIST_SIDE, MNIST_SIDE);
    reconstruction.classList.add('large');
    ui.bars.replaceChildren(reconstruction);
    ui.predictionText.textContent = `Test image ${index} reconstructed by ${state.modelName} (below): mse ${meanSquaredError(pixels, output).toFixed(4)}.`;
    ui.predictionText.className = '';
    return;
  }
  const argmax = showProbabilities(ui.bars, output, label);
  const verdict = argmax === label ? 'right' : 'wrong';
  ui.predictionText.textContent = `Test image ${index}: argmax ${argmax} (p = ${output[argmax].toFixed(4)}), true label ${label}: ${verdict}.`;
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
  const output = await waitingOn(drawProgress, { text: `Classifying with ${state.modelName}…`, after: `Classifying with ${state.modelName}…` }, () => model.predict(input));
  if (taskOf(model.outputShape) === 'reconstruct') {
    ui.drawBars.replaceChildren(digitCanvas(output, MNIST_SIDE, MNIST_SIDE));
    ui.drawText.textContent = `${state.modelName}'s reconstruction of the drawing (below): mse ${meanSquaredError(input, output).toFixed(4)}.`;
    return;
  }
  const best = showProbabilities(ui.drawBars, output);
  ui.drawText.textContent = `Looks like a ${best} (p = ${output[best].toFixed(4)}) to ${state.modelName}.`;
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
  const data = take(train, batchSize, recipeOf(taskOf(model.outputShape)).targets);
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

// ---- Opening and saving ---------------------------------------------------

const OCTETS = 'application/octet-stream';
const modelProgress = new ProgressLine(ui.modelStatus);

async function save(): Promise<void> {
  download(await need(state.model, 'train or open a model first').toBytes(), `${state.modelName}.safetensors`, OCTETS);
}

/** The model as a Keras 3 .keras file (the HDF5 writer is loaded the first time). */
async function saveKeras(): Promise<void> {
  const model = need(state.model, 'train or open a model first');
  const name = `${state.modelName}.keras`;
  const bytes = await waitingOn(modelProgress, { text: `Writing ${name}…`, after: `Writing ${name}…` }, async () => (await keras()).toKeras(model));
  modelProgress.stop(`Saved ${name}.`);
  download(bytes, name, OCTETS);
}

/** The model for PyTorch (see docs/pytorch.md): the export's files in one zip. */
async function exportTorch(): Promise<void> {
  const files = await torchFiles(need(state.model, 'train or open a model first'), state.modelName);
  download(zipSync(Object.fromEntries(files.map((f) => [`${state.modelName}-torch/${f.name}`, f.bytes]))), `${state.modelName}-torch.zip`, OCTETS);
}

const FORMATS = { 'webgpu-train': 'webgpu-train model file', keras: '.keras file', h5: '.h5 file' } as const;

/**
 * Opens a model file of ours or a Keras .keras or .h5 file, told apart by its
 * first bytes (the HDF5 reader is loaded only for a Keras file); it must take
 * MNIST's 28x28 images and classify them into 10 classes or reconstruct them.
 */
async function openModel(file: File): Promise<void> {
  const gpu = need(state.gpu, 'no WebGPU device');
  const name = file.name.replace(/\.(safetensors|keras|h5)$/i, '');
  const opening = `Opening ${file.name}…`;
  const { opened, model } = await waitingOn(modelProgress, { text: opening, after: opening }, async () => {
    const opened = await (await keras()).readAnyModelFile(new Uint8Array(await file.arrayBuffer()), file.name);
    expectImagesFit({ height: MNIST_SIDE, width: MNIST_SIDE }, opened.inputShape, file.name);
    const outputs = opened.shapes[opened.shapes.length - 1].output;
    const task = taskOf(outputs);
    if (task === 'classify' && (outputs.length !== 1 || outputs[0] < 10)) {
      throw new Error(`${file.name}: the model outputs [${outputs.join(', ')}], neither 10 classes of digits nor a 28x28 image`);
    }
    const { loss, metrics } = recipeOf(task);
    modelProgress.show(`Building ${name}…`);
    return { opened: { file: opened, name, task }, model: await modelFromFile(opened, { gpu, loss, metrics, onProgress: showSetup }) };
  });
  state.opened = opened;
  setModel(model, name);
  const { format, kerasVersion, notes } = opened.file;
  const from = format === 'webgpu-train' ? FORMATS[format] : `Keras ${kerasVersion ?? '(version not given)'} ${FORMATS[format]}`;
  ui.modelName.textContent = `Model: ${name}, ${count(model.paramCount)} parameters, from a ${from}.`;
  modelProgress.stop(notes.map((note) => `Note: ${note}.`).join(' '));
  const option = formField('model').querySelector<HTMLOptionElement>('option[value=opened]')!;
  option.textContent = `${name} (opened, ${count(model.paramCount)} params)`;
  // The log, chart and figures were the previous model's training.
  log.clear();
  ui.chartBox.hidden = true;
  ui.epochs.hidden = true;
  ui.trainStatus.textContent = '';
  clearLive();
  ui.testResult.textContent = `Opened ${file.name}: ${state.mnist ? 'evaluate it on the test set, or predict a test image.' : 'load MNIST to evaluate or predict with it.'}`;
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
formField('model').addEventListener('change', modelChanged);
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
ui.saveKeras.addEventListener('click', () => action('Saving the model as .keras', saveKeras));
ui.exportTorch.addEventListener('click', () => action('Exporting the model to PyTorch', exportTorch));
ui.loadModel.addEventListener('change', () => {
  const file = ui.loadModel.files?.[0];
  ui.loadModel.value = '';
  if (file) void action('Opening the model', () => openModel(file));
});
// Files dropped anywhere on the page: MNIST's four files load as the data, any other file opens as a model.
document.addEventListener('dragover', (event) => {
  if (!event.dataTransfer?.types.includes('Files')) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = state.busy ? 'none' : 'copy';
});
document.addEventListener('drop', (event) => {
  const files = Array.from(event.dataTransfer?.files ?? []);
  if (files.length === 0) return;
  event.preventDefault();
  if (files.every((file) => partOf(file.name))) {
    const data = files.map((file): DataFile => ({ name: file.name, read: async () => new Uint8Array(await file.arrayBuffer()) }));
    void action('Loading MNIST', () => loadData(data, 'Dropped files'));
  } else if (files.length > 1) {
    showError('Opening the model', new Error(`drop one model file at a time (got ${files.map((f) => f.name).join(', ')})`));
  } else {
    void action('Opening the model', () => openModel(files[0]));
  }
});
window.addEventListener('unhandledrejection', (event) => showError('Unexpected error', event.reason));
window.addEventListener('error', (event) => showError('Unexpected error', event.error ?? event.message));

refresh();
void action('WebGPU', initGpu);
