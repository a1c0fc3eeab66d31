// What fit returns, as Keras' and TensorFlow.js' History: one value an epoch per
// metric, by Keras' names, with our per-epoch details beside them.
import type { Logs } from '../graph';
import type { EpochLogs } from './run';

export class History {
  /** One value an epoch for each name the logs held: `history.loss`, `history.val_loss`, `history.learning_rate`, ... */
  readonly history: Record<string, number[]> = {};
  /** The epochs run, 0-based, as Keras numbers them (from `initialEpoch`). */
  readonly epoch: number[] = [];
  /** Each epoch's logs with its timing, steps and the figures Keras prints. */
  readonly epochs: EpochLogs[] = [];
  /** Why training ended before its last epoch, when it did: 'stopTraining' (a callback or the caller set it). */
  stopped?: { epoch: number; reason: string };

  add(epoch: number, details: EpochLogs): void {
    this.epoch.push(epoch);
    this.epochs.push(details);
    for (const [name, value] of Object.entries(details.logs)) {
      // A name that appears late (a callback's) is padded with NaN for the epochs before it, so every list lines up with `epoch`.
      (this.history[name] ??= Array(this.epoch.length - 1).fill(NaN)).push(value);
    }
  }

  /** As plain JSON (a checkpoint's): each epoch's number and details. */
  toJSON(): ({ epoch: number } & EpochLogs)[] {
    return this.epochs.map((details, i) => ({ epoch: this.epoch[i], ...details }));
  }

  /**
   * From `toJSON()`'s list, or from a checkpoint written before History, whose
   * entries were the epoch's figures themselves (`loss`, `accuracy`, `keras`,
   * `valLoss`, `valAccuracy`, `msPerStep`, `steps`), one an epoch from 0.
   */
  static fromJSON(entries: readonly Record<string, unknown>[]): History {
    const history = new History();
    entries.forEach((entry, i) => {
      if ('logs' in entry) {
        const { epoch, ...details } = entry as unknown as { epoch: number } & EpochLogs;
        history.add(epoch, details);
        return;
      }
      const old = entry as unknown as { loss: number; accuracy: number; keras?: Logs; valLoss?: number; valAccuracy?: number; msPerStep: number; steps: number };
      const logs: Logs = { loss: old.loss, accuracy: old.accuracy };
      if (old.valLoss !== undefined) Object.assign(logs, { val_loss: old.valLoss, val_accuracy: old.valAccuracy });
      history.add(i, { logs, printed: old.keras ?? { loss: old.loss, accuracy: old.accuracy }, msPerStep: old.msPerStep, steps: old.steps });
    });
    return history;
  }
}
