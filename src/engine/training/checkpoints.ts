// Checkpoints during fit: when to write one, what it holds (checkpoint.ts
// encodes it), the last state kept for a lost device's replacement, and
// going back to a checkpoint (a resumed run, or that replacement).
import { checkResumable, encodeCheckpoint, readCheckpoint, restoreState, type Checkpoint, type CheckpointInfo } from '../checkpoint';
import { History } from './history';
import type { FitSettings, Run, Trainee } from './run';

export interface CheckpointOptions {
  everySteps?: number;
  everyEpoch?: boolean;
  write(bytes: Uint8Array, info: CheckpointInfo): Promise<void>;
}

/** A checkpoint's bytes and where it was taken. */
export interface Kept {
  bytes: Uint8Array;
  info: CheckpointInfo;
}

export class Checkpoints {
  /** The state a lost device's replacement is rebuilt from: the last checkpoint written, or read back at the last epoch's end. */
  last?: Kept;
  private readonly write?: CheckpointOptions;
  /** Whether to keep the state at each epoch's end even when no checkpoint is written (fit may recover from a lost device). */
  private readonly keepLast: boolean;

  constructor(
    private readonly trainee: Trainee,
    private readonly settings: FitSettings,
    options: { write?: CheckpointOptions; keepLast: boolean },
  ) {
    this.write = options.write;
    this.keepLast = options.keepLast;
  }

  /**
   * Whether a checkpoint falls after step `step` (0-based) of `epoch`, so that
   * a command buffer must end there. One that falls on an epoch's last step
   * is written after the epoch's end (validation, onEpochEnd): `afterEpoch`.
   */
  dueAfter(epoch: number, step: number): boolean {
    const every = this.write?.everySteps;
    return every !== undefined && step + 1 < this.settings.steps && (epoch * this.settings.steps + step + 1) % every === 0;
  }

  /** After a command buffer: writes the checkpoint due there, if one is (`run.step` steps of the epoch submitted). */
  async afterChunk(run: Run, epochRandom: number): Promise<void> {
    if (this.dueAfter(run.epoch, run.step - 1)) await this.save(run, epochRandom);
  }

  /** At an epoch's end (`run` is at the next one's start): a checkpoint if one is due, else the state kept for a lost device. */
  async afterEpoch(run: Run, whole: boolean): Promise<void> {
    if (!whole) return;
    const every = this.write?.everySteps;
    if (this.write && (this.write.everyEpoch || (every && (run.epoch * this.settings.steps) % every === 0))) await this.save(run, this.trainee.random.state);
    else await this.keep(run);
  }

  /** Keeps the run's state for a lost device's replacement, when fit may recover from one. */
  async keep(run: Run): Promise<void> {
    if (this.keepLast) this.last = await this.snapshot(run, this.trainee.random.state);
  }

  private async save(run: Run, epochRandom: number): Promise<void> {
    this.last = await this.snapshot(run, epochRandom);
    await this.write!.write(this.last.bytes, this.last.info);
  }

  /** The run as a checkpoint; `epochRandom` is the generator's state at its epoch's start, so that a resumed epoch draws its shuffle again. */
  private async snapshot(run: Run, epochRandom: number): Promise<Kept> {
    const { trainee, settings } = this;
    const info = { epoch: run.epoch, step: run.step, steps: settings.steps, globalStep: run.epoch * settings.steps + run.step };
    const position = {
      ...info,
      optimizer: trainee.optimizer,
      ...trainee.precision,
      loss: trainee.loss,
      metrics: trainee.metrics,
      batchSize: settings.batchSize,
      samples: settings.count,
      seen: run.seen,
      random: { build: trainee.builtFrom, epoch: epochRandom },
      history: JSON.parse(JSON.stringify(run.history.toJSON())),
    };
    return { bytes: encodeCheckpoint(run.graph, trainee.architecture, position, await run.graph.readState()), info };
  }
}

/** The run a checkpoint given to fit (`resumeFrom`) continues, once it is checked against this model, data and batch size. */
export async function resume(trainee: Trainee, settings: FitSettings, from: Uint8Array | { bytes: Uint8Array; source: string }): Promise<Run> {
  const { bytes, source } = from instanceof Uint8Array ? { bytes: from, source: 'resumeFrom' } : from;
  const checkpoint = readCheckpoint(bytes, source);
  const { architecture, optimizer, precision, loss, metrics } = trainee;
  checkResumable(checkpoint, { architecture, optimizer, precision, loss, metrics, batchSize: settings.batchSize, samples: settings.count }, 'fit()');
  return restore(trainee, settings, checkpoint);
}

/** A graph built again as the checkpoint's was, holding its state, and the run at its position. */
export async function restore(trainee: Trainee, settings: FitSettings, checkpoint: Checkpoint): Promise<Run> {
  // Built from the generator's state the checkpoint's graph was built from, so that it draws the same dropout seeds.
  const graph = await trainee.graph(Math.min(settings.batchSize, settings.count), checkpoint.run.random.build);
  graph.writeState(restoreState(checkpoint, graph));
  trainee.random.state = checkpoint.run.random.epoch;
  const { epoch, step, seen, history } = checkpoint.run;
  return { graph, epoch, step, seen, history: History.fromJSON(history) };
}
