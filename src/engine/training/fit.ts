// Model.fit's loop: epochs of steps on the GPU, and the units it calls around
// them, each in a file of its own: a pass over the data (pass.ts, which hunts a
// non-finite loss down with nanHunt.ts), checkpoints and resuming
// (checkpoints.ts), recovery from a lost device (deviceLoss.ts). A batch goes
// from here to the GPU as: fit's batchSize -> the pass (dataSets.ts: its
// gather and plan for batchSize rows) -> Graph.plan(batchSize) -> each layer's
// dispatches for batchSize rows, recorded by Graph.submit.
import type { Inputs, Logs } from '../graph';
import { shuffledRows } from '../dataSets';
import { Checkpoints, resume, type CheckpointOptions } from './checkpoints';
import { DeviceLossRecovery, type DeviceLoss } from './deviceLoss';
import { runPass } from './pass';
import type { EpochLogs, FitSettings, Run, Trainee } from './run';

export type { DeviceLoss } from './deviceLoss';
export type { CheckpointOptions } from './checkpoints';
export type { EpochLogs, Trainee } from './run';

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  validationData?: [Inputs, ArrayLike<number>];
  /**
   * Steps between progress updates (each reads the running loss and accuracy
   * back once). The steps between two updates (or checkpoints) are recorded
   * into one command buffer, so training stops and pauses at an update.
   */
  updateEvery?: number;
  /**
   * Called at each progress update with the running means of the epoch so far;
   * training waits for a promise it returns (a pause).
   */
  onBatchEnd?: (step: number, logs: Logs, epoch: number) => void | Promise<void>;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  /**
   * Writes a checkpoint every `everySteps` steps (counted over the whole run)
   * and/or at the end of every epoch: `write` gets the bytes (see
   * checkpoint.ts) and where training is, and training waits for it.
   */
  checkpoint?: CheckpointOptions;
  /**
   * A checkpoint `fit` wrote, to continue from: same model, optimizer, data
   * size and batch size. Training then goes on exactly as it would have.
   * `source` names it in errors (a file name).
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

/** Trains `trainee` on the checked data `x`, `y` (`count` rows); returns each epoch's logs (with `resumeFrom`, those before it too). */
export async function fit(trainee: Trainee, data: { x: Inputs; y: ArrayLike<number>; count: number }, options: FitOptions): Promise<EpochLogs[]> {
  const settings = fitSettings(data, options);
  const retries = options.deviceLossRetries ?? 0;
  const checkpoints = new Checkpoints(trainee, settings, { write: options.checkpoint, keepLast: retries > 0 });
  const recovery = new DeviceLossRecovery(trainee, settings, { retries, onDeviceLost: options.onDeviceLost });
  let run: Run = options.resumeFrom
    ? await resume(trainee, settings, options.resumeFrom)
    : { graph: await trainee.graph(Math.min(settings.batchSize, settings.count)), epoch: 0, step: 0, seen: 0, history: [] };
  await checkpoints.keep(run);
  trainee.stopTraining = false;
  while (run.epoch < settings.epochs && !trainee.stopTraining) {
    try {
      await trainEpoch(trainee, run, settings, { checkpoints, options });
    } catch (error) {
      run = await recovery.recover(error, run, checkpoints.last);
    }
  }
  return run.history;
}

/** One epoch (or the rest of a resumed one), its validation, and what follows its end. */
async function trainEpoch(trainee: Trainee, run: Run, settings: FitSettings, { checkpoints, options }: { checkpoints: Checkpoints; options: FitOptions }): Promise<void> {
  const { x, y } = settings;
  const epochRandom = trainee.random.state;
  const order = shuffledRows(settings.count, settings.shuffle ? trainee.random : undefined);
  // The data goes to the GPU, and the plans and gathers are made, before timing starts.
  const pass = await run.graph.data.pass({ x, y, order }, settings.batchSize);
  const first = run.step;
  let paused = 0;
  const started = performance.now();
  const logs = await runPass(run.graph, pass, {
    kind: 'train',
    x,
    order,
    updateEvery: settings.updateEvery,
    onUpdate: async (step, logs) => {
      const called = performance.now();
      await options.onBatchEnd?.(step, logs, run.epoch);
      paused += performance.now() - called;
    },
    stop: () => trainee.stopTraining,
    from: first > 0 ? { step: first, seen: run.seen } : undefined,
    endChunk: (step) => checkpoints.dueAfter(run.epoch, step),
    afterChunk: (step, seen) => {
      Object.assign(run, { step: step + 1, seen });
      return checkpoints.afterChunk(run, epochRandom);
    },
    label: `epoch ${run.epoch + 1}/${settings.epochs}`,
  });
  const epochLogs: EpochLogs = { ...logs, msPerStep: (performance.now() - started - paused) / Math.max(1, logs.steps - first) };
  if (options.validationData) {
    const [valX, valY] = options.validationData;
    const { loss, accuracy } = await trainee.evaluate(valX, valY, { batchSize: settings.batchSize });
    Object.assign(epochLogs, { valLoss: loss, valAccuracy: accuracy });
  }
  run.history.push(epochLogs);
  const whole = logs.steps === settings.steps && !trainee.stopTraining;
  await checkpoints.afterEpoch({ ...run, epoch: run.epoch + 1, step: 0, seen: 0 }, whole);
  options.onEpochEnd?.(run.epoch, epochLogs);
  Object.assign(run, { epoch: run.epoch + 1, step: 0, seen: 0 });
}

function fitSettings(data: { x: Inputs; y: ArrayLike<number>; count: number }, options: FitOptions): FitSettings {
  const { epochs = 1, batchSize = 32, shuffle = true } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`fit(): batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`fit(): epochs must be a non-negative integer, got ${epochs}`);
  const every = options.checkpoint?.everySteps;
  if (every !== undefined && (!Number.isInteger(every) || every < 1)) throw new Error(`fit(): checkpoint.everySteps must be a positive integer, got ${every}`);
  const retries = options.deviceLossRetries ?? 0;
  if (!Number.isInteger(retries) || retries < 0) throw new Error(`fit(): deviceLossRetries must be a non-negative integer, got ${retries}`);
  const steps = Math.ceil(data.count / batchSize);
  return { ...data, epochs, batchSize, steps, shuffle, updateEvery: options.updateEvery ?? Math.max(1, Math.ceil(steps / 20)) };
}
