// What the units of fit (fit.ts, checkpoints.ts, deviceLoss.ts) share: the
// model being trained, the checked settings, and where the run is.
import type { Graph, Inputs, Logs } from '../graph';
import type { LossConfig, MetricName } from '../losses';
import type { Architecture } from '../modelFile';
import type { LossScaleConfig } from '../ops/lossScale';
import type { OptimizerConfig } from '../ops/optimizer';
import type { Precision } from '../pipelines';
import type { Random } from '../random';
import type { TrainedModel } from './callbacks';
import type { History } from './history';

/** An epoch as fit reports it: what History keeps of it, and the rest. */
export interface EpochLogs {
  /** The epoch's means (its running means at its end) and, after validation, `val_loss`, `val_accuracy`, ... */
  logs: Logs;
  /** The figures Keras 3 prints for the epoch (`Progress.printed`). */
  printed: Logs;
  /** Wall time of the epoch's training steps (less any pause), divided by their number. */
  msPerStep: number;
  /** Steps run: all of the epoch's unless training was stopped. */
  steps: number;
}

/** What fit needs of the model it trains; `Model.fit` lends it. */
export interface Trainee {
  readonly architecture: Architecture;
  readonly optimizer: OptimizerConfig;
  /** The model's precision, and in mixed precision its loss scaling's settings. */
  readonly precision: { precision: Precision; lossScale?: LossScaleConfig };
  /** What the loss and metrics are: a checkpoint records them, and is resumed only by a model compiled with the same. */
  readonly loss: Required<LossConfig>;
  readonly metrics: MetricName[];
  /** Values of y per example: 1 for labels, the output's size for target rows. */
  readonly targetSize: number;
  /** The model's generator: each epoch's shuffle, and the seeds a graph is built with. */
  readonly random: Random;
  /** The generator's state the current graph was built from. */
  readonly builtFrom: number;
  /** Set (by a callback, a button) to stop at the next progress update: Model.stopTraining. */
  stopTraining: boolean;
  /** The graph for batches of up to `batchSize` rows; with `buildFrom`, a new one built from that generator state. */
  graph(batchSize: number, buildFrom?: number): Promise<Graph>;
  /** After a device loss: a new device, on which the next graph is built. */
  replaceDevice(): Promise<void>;
  evaluate(x: Inputs, y: ArrayLike<number>, options: { batchSize: number }): Promise<Logs>;
  /** What callbacks may use of the model (Model itself). */
  readonly model: TrainedModel;
}

/** The training data and fit's options, checked, with what follows from them. */
export interface FitSettings {
  x: Inputs;
  y: ArrayLike<number>;
  /** Rows of x and y. */
  count: number;
  epochs: number;
  batchSize: number;
  /** Steps in an epoch. */
  steps: number;
  updateEvery: number;
  shuffle: boolean;
  /** The epoch the run starts at, when not resumed. */
  initialEpoch: number;
  validationData?: [Inputs, ArrayLike<number>];
  /** Whether a non-finite loss stops training (`terminateOnNaN`). */
  terminateOnNaN: boolean;
}

/** Where a run is: its graph, and what a checkpoint holds besides the GPU state. */
export interface Run {
  graph: Graph;
  epoch: number;
  /** Steps submitted and rows seen in the epoch (above 0 at the start of an epoch only in a resumed one). */
  step: number;
  seen: number;
  history: History;
}
