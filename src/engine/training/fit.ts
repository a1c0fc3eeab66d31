// Model.fit's loop: epochs of steps on the GPU, and the units it calls around
// them, each in a file of its own: a pass over the data (pass.ts, which hunts a
// non-finite loss down with nanHunt.ts), callbacks (callbacks.ts, progress.ts),
// checkpoints and resuming (checkpoints.ts), recovery from a lost device
// (deviceLoss.ts). A batch goes from here to the GPU as: fit's batchSize -> the
// pass (dataSets.ts: its gather and plan for batchSize rows) ->
// Graph.plan(batchSize) -> each layer's dispatches for batchSize rows,
// recorded by Graph.submit.
import { sizeOf } from '../buffers';
import { lostInfo } from '../device';
import type { Inputs } from '../graph';
import { shuffledRows } from '../dataSets';
import { CallbackList, type Callback } from './callbacks';
import { Checkpoints, resume, type CheckpointOptions } from './checkpoints';
import { DeviceLossRecovery, type DeviceLoss } from './deviceLoss';
import { History } from './history';
import { defaultUpdateEvery, runPass } from './pass';
import { progressPrinter, progressWriter } from './progress';
import type { EpochLogs, FitSettings, Run, Trainee } from './run';

export type { DeviceLoss } from './deviceLoss';
export type { CheckpointOptions } from './checkpoints';
export type { EpochLogs, Trainee } from './run';

export interface FitOptions {
  /** The epoch to stop before (0-based, as Keras counts): epochs `initialEpoch` to `epochs - 1` run. */
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** The epoch to start at (Keras' initial_epoch): the History numbers epochs from it. */
  initialEpoch?: number;
  validationData?: [Inputs, ArrayLike<number>];
  /**
   * The fraction of x and y to validate on instead of training (Keras'
   * validation_split): the last rows, taken before any shuffling.
   */
  validationSplit?: number;
  /**
   * 0: silent; 1: Keras' log, `Epoch 1/5` and a progress bar updated at each
   * progress update, then the epoch's line; 2: the epoch's line only. Printed
   * where `setProgressWriter` says (the Node entry: stdout); by default 1 in
   * Node and 0 in a browser.
   */
  verbose?: 0 | 1 | 2;
  /**
   * Keras' callbacks (callbacks.ts), or an object with any of their methods
   * (as TensorFlow.js takes them). A batch callback runs at progress updates,
   * every `updateEvery` steps, not after every step.
   */
  callbacks?: Callback | Callback[];
  /** Stop with an error naming where the loss went NaN or infinite (the default); false lets training go on. */
  terminateOnNaN?: boolean;
  /**
   * Steps between progress updates (each reads the running loss and metrics
   * back once). The steps between two updates (or checkpoints) are recorded
   * into one command buffer, so training stops and pauses at an update.
   */
  updateEvery?: number;
  /**
   * Writes a checkpoint every `everySteps` steps (counted over the whole run)
   * and/or at the end of every epoch: `write` gets the bytes (see
   * checkpoint.ts) and where training is, and training waits for it.
   */
  checkpoint?: CheckpointOptions;
  /**
   * A checkpoint `fit` wrote, to continue from: same model, optimizer, data
   * size and batch size. Training then goes on exactly as it would have.
   * `source` names it in errors (a file name). Callbacks start afresh.
   */
  resumeFrom?: Uint8Array | { bytes: Uint8Array; source: string };
  /**
   * How many times `fit` recovers when the GPU device is lost (a driver reset,
   * `device.destroy()`): it makes a new device (`CompileOptions.recreateGpu`),
   * rebuilds the model on it from the last checkpoint it wrote or else from
   * the state it read back at the last epoch's end (once an epoch, only when
   * this is above 0; at the start of fit too), and goes on from there. 0 (the
   * default): the loss stops training with an error naming where it happened.
   */
  deviceLossRetries?: number;
  /** Told of each device loss, recovered from or not, before training goes on (or the error is thrown). */
  onDeviceLost?: (loss: DeviceLoss) => void;
}

/** Trains `trainee` on the checked data `x`, `y` (`count` rows); returns the History (with `resumeFrom`, of the epochs before it too). */
export async function fit(trainee: Trainee, data: { x: Inputs; y: ArrayLike<number>; count: number }, options: FitOptions): Promise<History> {
  const settings = fitSettings(trainee, data, options);
  const callbacks = callbackList(settings, options);
  const retries = options.deviceLossRetries ?? 0;
  const checkpoints = new Checkpoints(trainee, settings, { write: options.checkpoint, keepLast: retries > 0 });
  const recovery = new DeviceLossRecovery(trainee, settings, { retries, onDeviceLost: options.onDeviceLost });
  const graph = async () => trainee.graph(Math.min(settings.batchSize, settings.count));
  let run: Run = options.resumeFrom
    ? await resume(trainee, settings, options.resumeFrom)
    : { graph: await graph(), epoch: settings.initialEpoch, step: 0, seen: 0, history: new History() };
  await checkpoints.keep(run);
  trainee.stopTraining = false;
  callbacks.setModel(trainee.model);
  await callbacks.trainBegin();
  while (run.epoch < settings.epochs && !trainee.stopTraining) {
    try {
      await trainEpoch(trainee, run, { settings, callbacks, checkpoints });
    } catch (error) {
      run = await recovery.recover(error, run, checkpoints.last);
    }
  }
  if (run.epoch < settings.epochs) run.history.stopped = { epoch: run.epoch - 1, reason: 'stopTraining' };
  await callbacks.trainEnd(run.history.epochs.at(-1)?.logs ?? {});
  return run.history;
}

interface EpochUnits {
  settings: FitSettings;
  callbacks: CallbackList;
  checkpoints: Checkpoints;
}

/** One epoch (or the rest of a resumed one), its validation, and what follows its end. */
async function trainEpoch(trainee: Trainee, run: Run, { settings, callbacks, checkpoints }: EpochUnits): Promise<void> {
  const { x, y } = settings;
  const epoch = run.epoch;
  const epochRandom = trainee.random.state;
  const order = shuffledRows(settings.count, settings.shuffle ? trainee.random : undefined);
  await callbacks.epochBegin(epoch);
  // The data goes to the GPU, and the plans and gathers are made, before timing starts.
  const pass = await run.graph.data.pass({ x, y, order }, settings.batchSize);
  const first = run.step;
  let paused = 0;
  const started = performance.now();
  const { logs, printed, steps } = await runPass(run.graph, pass, {
    kind: 'train',
    x,
    order,
    updateEvery: settings.updateEvery,
    onUpdate: async (step, progress) => {
      const called = performance.now();
      const seconds = (called - started - paused) / 1000;
      await callbacks.trainBatchEnd(step, progress.logs, { epoch, printed: progress.printed, seconds, msPerStep: (seconds * 1000) / (step + 1 - first) });
      paused += performance.now() - called;
    },
    stop: () => trainee.stopTraining,
    stopOnNonFinite: settings.terminateOnNaN,
    from: first > 0 ? { step: first, seen: run.seen } : undefined,
    endChunk: (step) => checkpoints.dueAfter(epoch, step),
    afterChunk: (step, seen) => {
      Object.assign(run, { step: step + 1, seen });
      return checkpoints.afterChunk(run, epochRandom);
    },
    label: `epoch ${epoch + 1}/${settings.epochs}`,
  });
  const details: EpochLogs = { logs: { ...logs }, printed: printed ?? logs, msPerStep: (performance.now() - started - paused) / Math.max(1, steps - first), steps };
  if (settings.validationData) {
    const [valX, valY] = settings.validationData;
    const validation = await trainee.evaluate(valX, valY, { batchSize: settings.batchSize });
    for (const [name, value] of Object.entries(validation)) details.logs[`val_${name}`] = value;
  }
  // A device lost late in the epoch may have let its last reads through (a browser's destroy
  // takes effect asynchronously): the epoch ends only on a live device, else recovery takes over.
  if (await lostInfo(run.graph.device, 0)) throw new Error(`fit(): the GPU device was lost in epoch ${epoch + 1}`);
  await callbacks.epochEnd(epoch, details);
  run.history.add(epoch, details);
  const whole = steps === settings.steps && !trainee.stopTraining;
  await checkpoints.afterEpoch({ ...run, epoch: epoch + 1, step: 0, seen: 0 }, whole);
  Object.assign(run, { epoch: epoch + 1, step: 0, seen: 0 });
}

/** The user's callbacks, then Keras' progress log when verbose. */
function callbackList(settings: FitSettings, options: FitOptions): CallbackList {
  const given = options.callbacks === undefined ? [] : Array.isArray(options.callbacks) ? options.callbacks : [options.callbacks];
  const writer = progressWriter();
  const verbose = options.verbose ?? (writer ? 1 : 0);
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new Error(`fit(): verbose must be 0, 1 or 2, got ${verbose}`);
  const printer = verbose > 0 && writer ? [progressPrinter(writer, { epochs: settings.epochs, steps: settings.steps, bar: verbose === 1 })] : [];
  return new CallbackList([...given, ...printer]);
}

function fitSettings(trainee: Trainee, data: { x: Inputs; y: ArrayLike<number>; count: number }, options: FitOptions): FitSettings {
  const { epochs = 1, batchSize = 32, shuffle = true, initialEpoch = 0, validationSplit } = options;
  const integer = (name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min) throw new Error(`fit(): ${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${value}`);
  };
  integer('batchSize', batchSize, 1);
  integer('epochs', epochs, 0);
  integer('initialEpoch', initialEpoch, 0);
  const every = options.checkpoint?.everySteps;
  if (every !== undefined) integer('checkpoint.everySteps', every, 1);
  integer('deviceLossRetries', options.deviceLossRetries ?? 0, 0);
  let { x, y, count } = data;
  let validationData = options.validationData;
  if (validationSplit !== undefined) {
    if (validationData) throw new Error('fit(): give validationData or validationSplit, not both');
    if (!(validationSplit > 0 && validationSplit < 1)) throw new Error(`fit(): validationSplit must be between 0 and 1, got ${validationSplit}`);
    // Keras: the last rows, split at floor(count * (1 - split)), before any shuffling.
    const splitAt = Math.floor(count * (1 - validationSplit));
    if (splitAt === 0 || splitAt === count) {
      throw new Error(`fit(): ${count} samples cannot be split into a training and a validation set with validationSplit ${validationSplit}`);
    }
    const rowSize = sizeOf(trainee.architecture.inputShape);
    const targets = (start: number, end: number) => rowsOf(y, start * trainee.targetSize, end * trainee.targetSize);
    validationData = [x.subarray(splitAt * rowSize), targets(splitAt, count)];
    [x, y, count] = [x.subarray(0, splitAt * rowSize), targets(0, splitAt), splitAt];
  }
  const steps = Math.ceil(count / batchSize);
  return {
    x,
    y,
    count,
    epochs,
    initialEpoch,
    batchSize,
    steps,
    shuffle,
    validationData,
    terminateOnNaN: options.terminateOnNaN !== false || [options.callbacks ?? []].flat().some((c) => 'terminatesOnNaN' in c),
    updateEvery: options.updateEvery ?? defaultUpdateEvery(steps),
  };
}

/** Values `start` to `end` of y: a view of a typed array (so the data sets on the GPU recognise it again), else a copy. */
function rowsOf(y: ArrayLike<number>, start: number, end: number): ArrayLike<number> {
  return ArrayBuffer.isView(y) ? (y as Uint32Array).subarray(start, end) : Array.from({ length: end - start }, (_, i) => y[start + i]);
}
