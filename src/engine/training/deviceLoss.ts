// Recovery from a lost GPU device during fit (a driver reset, device.destroy()):
// a new device, the model rebuilt on it from the last state kept, and training
// goes on from there, up to `deviceLossRetries` times.
import { readCheckpoint } from '../checkpoint';
import { lostInfo } from '../device';
import { restore, type Kept } from './checkpoints';
import type { FitSettings, Run, Trainee } from './run';

/** A device loss during `fit`, as `onDeviceLost` is told of it. */
export interface DeviceLoss {
  /** Where training was (0-based epoch; steps of it submitted) when the loss was found. */
  epoch: number;
  step: number;
  /** From `device.lost`: 'destroyed' or 'unknown', and the driver's message. */
  reason: string;
  message: string;
  /** Whether training goes on, and from where: the epoch and step of the state it was rebuilt from. */
  recovered: boolean;
  resumedAt?: { epoch: number; step: number };
  /** Losses so far in this fit, this one included. */
  count: number;
}

export class DeviceLossRecovery {
  private losses = 0;

  constructor(
    private readonly trainee: Trainee,
    private readonly settings: FitSettings,
    private readonly options: { retries: number; onDeviceLost?: (loss: DeviceLoss) => void },
  ) {}

  /**
   * Throws `error` again unless the run's device was lost; then, if a retry is
   * left and a state was kept (`last`), the run rebuilt on a new device from
   * that state; else an error naming where the loss happened.
   */
  async recover(error: unknown, run: Run, last: Kept | undefined): Promise<Run> {
    const info = await lostInfo(run.graph.device);
    if (!info) throw error;
    const { retries, onDeviceLost } = this.options;
    this.losses++;
    const recovered = this.losses <= retries && last !== undefined;
    const at = { epoch: last?.info.epoch ?? 0, step: last?.info.step ?? 0 };
    onDeviceLost?.({ epoch: run.epoch, step: run.step, reason: info.reason, message: info.message, recovered, ...(recovered && { resumedAt: at }), count: this.losses });
    if (!recovered) {
      const advice = retries > 0 ? `; gave up after ${retries} recover${retries === 1 ? 'y' : 'ies'}` : " (set fit's deviceLossRetries to recover)";
      const where = `epoch ${run.epoch + 1}/${this.settings.epochs} after step ${run.step}/${this.settings.steps} was submitted`;
      throw new Error(`fit(): the GPU device was lost in ${where} (${info.reason}: ${info.message})${advice}`, { cause: error });
    }
    await this.trainee.replaceDevice();
    return restore(this.trainee, this.settings, readCheckpoint(last!.bytes, `the state of epoch ${at.epoch + 1}, step ${at.step}`));
  }
}
