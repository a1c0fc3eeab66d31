// Keras' callbacks, with Keras 3's semantics and parameter names (camelCased):
// fit calls each at the start and end of training and of every epoch, and at
// each progress update. A batch callback runs at progress updates (every
// `updateEvery` steps), not after every step: the steps between two updates
// are one command buffer, and a callback per step would force a readback per step.
import type { Logs } from '../graph';
import type { Weight } from '../safetensors';
import type { EpochLogs } from './run';

type Awaitable = void | Promise<void>;

/** What a callback may use of the model being trained (Model has all of it). */
export interface TrainedModel {
  /** Set to stop training at the next progress update. */
  stopTraining: boolean;
  /** Set to stop `evaluate` at its next progress update (Keras 3's stop_evaluating). */
  stopEvaluating?: boolean;
  /** The optimizer's learning rate; setting it takes effect from the next step (refused with a schedule). */
  learningRate: number;
  /** The rate the next update uses, a schedule's too. */
  readLearningRate(): Promise<number>;
  getWeights(): Promise<Weight[]>;
  setWeights(weights: Weight[]): Promise<void>;
  /** The model as a file (our format). */
  toBytes(): Promise<Uint8Array>;
}

/**
 * A callback: any of these, as Keras' on_train_begin, on_epoch_end, ... The
 * logs are Keras': `loss`, each metric, after validation `val_loss`, ...;
 * a callback may add to them at an epoch's end (as ReduceLROnPlateau adds
 * `learning_rate`), and History keeps what they hold after every callback.
 */
export interface Callback {
  /** Called before onTrainBegin with the model being trained (Keras' set_model). */
  setModel?(model: TrainedModel): void;
  onTrainBegin?(logs: Logs | Record<string, never>): Awaitable;
  onTrainEnd?(logs: Logs | Record<string, never>): Awaitable;
  onEpochBegin?(epoch: number): Awaitable;
  /** `details`: the epoch's timing, steps and the figures Keras prints. */
  onEpochEnd?(epoch: number, logs: Logs, details: EpochLogs): Awaitable;
  /** At each progress update (not each step): `batch` is the step's index in the epoch; see BatchDetails. */
  onTrainBatchEnd?(batch: number, logs: Logs, details: BatchDetails): Awaitable;
  /** `evaluate` (and fit's validation) calls these, once its data is on the GPU and its plan made. */
  onTestBegin?(logs: Record<string, never>): Awaitable;
  /** At each progress update of `evaluate`: `batch` is the step's index; the logs, the means so far. */
  onTestBatchEnd?(batch: number, logs: Logs): Awaitable;
  onTestEnd?(logs: Logs): Awaitable;
}

/** Where an epoch is at a progress update, besides its logs. */
export interface BatchDetails {
  epoch: number;
  /** What Keras 3's progress bar shows. */
  printed?: Logs;
  /** Wall time of the epoch's steps so far (from its first step, less pauses), and per step run: not the set-up before them. */
  seconds: number;
  msPerStep: number;
}

/** Runs a list of callbacks in order, each to the end before the next. */
export class CallbackList {
  constructor(readonly callbacks: readonly Callback[]) {}

  setModel(model: TrainedModel): void {
    for (const callback of this.callbacks) callback.setModel?.(model);
  }

  async trainBegin(): Promise<void> {
    for (const callback of this.callbacks) await callback.onTrainBegin?.({});
  }

  async trainEnd(logs: Logs | Record<string, never>): Promise<void> {
    for (const callback of this.callbacks) await callback.onTrainEnd?.(logs);
  }

  async epochBegin(epoch: number): Promise<void> {
    for (const callback of this.callbacks) await callback.onEpochBegin?.(epoch);
  }

  async epochEnd(epoch: number, details: EpochLogs): Promise<void> {
    for (const callback of this.callbacks) await callback.onEpochEnd?.(epoch, details.logs, details);
  }

  async trainBatchEnd(batch: number, logs: Logs, details: BatchDetails): Promise<void> {
    for (const callback of this.callbacks) await callback.onTrainBatchEnd?.(batch, logs, details);
  }

  async testBegin(): Promise<void> {
    for (const callback of this.callbacks) await callback.onTestBegin?.({});
  }

  async testBatchEnd(batch: number, logs: Logs): Promise<void> {
    for (const callback of this.callbacks) await callback.onTestBatchEnd?.(batch, logs);
  }

  async testEnd(logs: Logs): Promise<void> {
    for (const callback of this.callbacks) await callback.onTestEnd?.(logs);
  }
}

export type Mode = 'auto' | 'min' | 'max';

/** Metrics that get better as they grow (Keras' `_direction = "up"`); the loss and errors get better as they shrink. */
const RISING = ['accuracy', 'sparse_categorical_accuracy', 'categorical_accuracy', 'binary_accuracy', 'top_k_categorical_accuracy'];

function expectMode(where: string, mode: string): asserts mode is Mode {
  if (mode !== 'auto' && mode !== 'min' && mode !== 'max') throw new Error(`${where}: mode must be 'auto', 'min' or 'max', got '${mode}'`);
}

function expectNumber(where: string, name: string, value: number, check: (v: number) => boolean, rule: string): void {
  if (typeof value !== 'number' || !check(value)) throw new Error(`${where}: ${name} must be ${rule}, got ${value}`);
}

/** Adds to an epoch's logs the learning rate it ended with, as Keras' learning-rate callbacks do. */
async function logLearningRate(logs: Logs, model: TrainedModel): Promise<void> {
  logs.learning_rate = await model.readLearningRate();
}

/**
 * Keras 3's EarlyStopping: stops when `monitor` has not improved by more than
 * `minDelta` for `patience` epochs (counted from `startFromEpoch`); with
 * `restoreBestWeights`, puts back the weights of the best epoch when training
 * ends. `bestEpoch` and `stoppedEpoch` (0-based; 0: never stopped) say what happened.
 */
export function earlyStopping(options: {
  monitor?: string;
  minDelta?: number;
  patience?: number;
  mode?: Mode;
  baseline?: number;
  restoreBestWeights?: boolean;
  startFromEpoch?: number;
} = {}): Callback & { readonly bestEpoch: number; readonly stoppedEpoch: number; readonly best: number } {
  const { monitor = 'val_loss', patience = 0, mode = 'auto', baseline, restoreBestWeights = false, startFromEpoch = 0 } = options;
  expectMode('earlyStopping()', mode);
  expectNumber('earlyStopping()', 'patience', patience, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  expectNumber('earlyStopping()', 'startFromEpoch', startFromEpoch, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  const name = monitor.replace(/^val_/, '');
  // Keras decides the direction once, at the first epoch's end; so do we, at once.
  const rising = mode === 'max' || (mode === 'auto' && RISING.includes(name));
  if (mode === 'auto' && name !== 'loss' && !rising && !['mse', 'mae', 'mean_squared_error', 'mean_absolute_error'].includes(name)) {
    throw new Error(`earlyStopping(): cannot tell whether '${monitor}' should be maximized or minimized; pass mode: 'max' or 'min'`);
  }
  const minDelta = rising ? Math.abs(options.minDelta ?? 0) : -Math.abs(options.minDelta ?? 0);
  const better = (value: number, reference: number) => (rising ? value - minDelta > reference : value - minDelta < reference);
  let model!: TrainedModel;
  let wait = 0;
  let bestWeights: Weight[] | null = null;
  const state = { best: rising ? -Infinity : Infinity, bestEpoch: 0, stoppedEpoch: 0 };
  return {
    get best() {
      return state.best;
    },
    get bestEpoch() {
      return state.bestEpoch;
    },
    get stoppedEpoch() {
      return state.stoppedEpoch;
    },
    setModel(trained) {
      model = trained;
    },
    onTrainBegin() {
      wait = 0;
      state.stoppedEpoch = 0;
      bestWeights = null;
      state.bestEpoch = 0;
    },
    async onEpochEnd(epoch, logs) {
      const current = logs[monitor];
      if (current === undefined || epoch < startFromEpoch) return;
      if (restoreBestWeights && bestWeights === null) {
        bestWeights = await model.getWeights();
        state.bestEpoch = epoch;
      }
      wait++;
      if (better(current, state.best)) {
        state.best = current;
        state.bestEpoch = epoch;
        if (restoreBestWeights) bestWeights = await model.getWeights();
        // Only restart the wait if both the baseline and the best so far are beaten.
        if (baseline === undefined || better(current, baseline)) wait = 0;
        return;
      }
      if (wait >= patience && epoch > 0) {
        state.stoppedEpoch = epoch;
        model.stopTraining = true;
      }
    },
    async onTrainEnd() {
      if (restoreBestWeights && bestWeights !== null) await model.setWeights(bestWeights);
    },
  };
}

/**
 * Keras 3's ModelCheckpoint: writes the model at each epoch's end (or, with
 * `saveBestOnly`, when `monitor` improves) through `write` (the Node entry's
 * `modelCheckpoint` writes a file by path). `mode` 'auto' maximizes a monitor
 * whose name holds 'acc', as Keras does.
 */
export function modelCheckpoint(options: {
  write: (bytes: Uint8Array, info: { epoch: number; logs: Logs }) => Promise<void>;
  monitor?: string;
  saveBestOnly?: boolean;
  mode?: Mode;
  initialValueThreshold?: number;
}): Callback {
  const { write, monitor = 'val_loss', saveBestOnly = false, mode = 'auto', initialValueThreshold } = options;
  expectMode('modelCheckpoint()', mode);
  const rising = mode === 'max' || (mode === 'auto' && monitor.includes('acc'));
  let best = initialValueThreshold;
  let model!: TrainedModel;
  return {
    setModel(trained) {
      model = trained;
    },
    async onEpochEnd(epoch, logs) {
      if (saveBestOnly) {
        const current = logs[monitor];
        if (current === undefined) throw new Error(`modelCheckpoint(): monitor '${monitor}' is not in the logs (they hold ${Object.keys(logs).join(', ')})`);
        if (best !== undefined && !(rising ? current > best : current < best)) return;
        best = current;
      }
      await write(await model.toBytes(), { epoch, logs });
    },
  };
}

/**
 * Keras 3's ReduceLROnPlateau: multiplies the learning rate by `factor` when
 * `monitor` has not improved by more than `minDelta` for `patience` epochs,
 * then waits `cooldown` epochs; never below `minLr`. Adds `learning_rate` to
 * each epoch's logs.
 */
export function reduceLROnPlateau(options: {
  monitor?: string;
  factor?: number;
  patience?: number;
  mode?: Mode;
  minDelta?: number;
  cooldown?: number;
  minLr?: number;
} = {}): Callback {
  const { monitor = 'val_loss', factor = 0.1, patience = 10, mode = 'auto', minDelta = 1e-4, cooldown = 0, minLr = 0 } = options;
  expectMode('reduceLROnPlateau()', mode);
  if (!(factor < 1)) throw new Error(`reduceLROnPlateau(): factor must be below 1, got ${factor}`);
  expectNumber('reduceLROnPlateau()', 'patience', patience, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  expectNumber('reduceLROnPlateau()', 'cooldown', cooldown, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  const rising = mode === 'max' || (mode === 'auto' && monitor.includes('acc'));
  const improves = (value: number, reference: number) => (rising ? value > reference + minDelta : value < reference - minDelta);
  let model!: TrainedModel;
  let best = rising ? -Infinity : Infinity;
  let wait = 0;
  let cooldownLeft = 0;
  return {
    setModel(trained) {
      model = trained;
    },
    onTrainBegin() {
      best = rising ? -Infinity : Infinity;
      wait = 0;
      cooldownLeft = 0;
    },
    async onEpochEnd(_epoch, logs) {
      await logLearningRate(logs, model);
      const current = logs[monitor];
      if (current === undefined) return;
      if (cooldownLeft > 0) {
        cooldownLeft--;
        wait = 0;
      }
      if (improves(current, best)) {
        best = current;
        wait = 0;
      } else if (cooldownLeft === 0 && ++wait >= patience) {
        const old = model.learningRate;
        if (old > Math.fround(minLr)) {
          model.learningRate = Math.max(old * factor, minLr);
          cooldownLeft = cooldown;
          wait = 0;
        }
      }
    },
  };
}

/** Keras' LearningRateScheduler: at each epoch's start the learning rate becomes `schedule(epoch, rate)`. Adds `learning_rate` to each epoch's logs. */
export function learningRateScheduler(schedule: (epoch: number, learningRate: number) => number): Callback {
  let model!: TrainedModel;
  return {
    setModel(trained) {
      model = trained;
    },
    onEpochBegin(epoch) {
      const rate = schedule(epoch, model.learningRate);
      if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
        throw new Error(`learningRateScheduler(): the schedule returned ${rate} for epoch ${epoch}, not a finite rate >= 0`);
      }
      model.learningRate = rate;
    },
    onEpochEnd(_epoch, logs) {
      return logLearningRate(logs, model);
    },
  };
}

/**
 * Stops training when the loss goes NaN or infinite, with an error naming the
 * step and the first value that went non-finite (training/nanHunt.ts). fit
 * runs it whether or not it is listed; `fit({ terminateOnNaN: false })` turns
 * it off, and the loss then goes on as it is.
 */
export function terminateOnNaN(): Callback & { readonly terminatesOnNaN: true } {
  return { terminatesOnNaN: true };
}
