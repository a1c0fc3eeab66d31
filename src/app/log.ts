// The training log: Keras' text output, one progress line per epoch, in a <pre>,
// with the epoch mean beside the figures Keras would print.
import { formatLogs, type Logs } from '../engine';

const BAR_WIDTH = 20;

/** Keras' step time: `8ms/step`, or `656us/step` under a millisecond. */
function perStep(ms: number): string {
  return ms >= 1 ? `${Math.round(ms)}ms/step` : `${Math.round(ms * 1000)}us/step`;
}

/** The training figures of `logs`, without the validation's and the learning rate (which have lines and columns of their own). */
function trainingFigures(logs: Logs): Logs {
  return Object.fromEntries(Object.entries(logs).filter(([name]) => !name.startsWith('val_') && name !== 'learning_rate')) as Logs;
}

export class TrainingLog {
  /** The line the progress updates rewrite; finished lines stay above it. */
  private current?: HTMLElement;

  constructor(private readonly pre: HTMLElement) {}

  clear(): void {
    this.pre.replaceChildren();
    this.current = undefined;
  }

  /** Appends a finished line. */
  line(text: string): void {
    this.current = undefined;
    const div = document.createElement('div');
    div.textContent = text;
    this.pre.append(div);
  }

  /**
   * Shows `469/469 ━━━━━━━━━━━━━━━━━━━━ 4s 8ms/step - accuracy: 0.9939 - loss: 0.0196`
   * (the autoencoder's: `- loss: 0.1001 - mse: 0.0112`),
   * rewriting the current line; `done` finishes it. The figures are Keras' own
   * (`printed`, the mean of the running means), as its log reads; the epoch
   * mean so far (`logs`) follows in brackets.
   */
  progress(step: number, steps: number, ms: number, { logs, printed }: { logs: Logs; printed?: Logs }, done = false): void {
    if (!this.current) {
      this.current = document.createElement('div');
      this.pre.append(this.current);
    }
    const filled = Math.round((BAR_WIDTH * step) / steps);
    const count = `${String(step).padStart(String(steps).length)}/${steps} `;
    const bar = document.createElement('span');
    bar.className = 'bar-done';
    bar.textContent = '━'.repeat(filled);
    const rest = document.createElement('span');
    rest.className = 'bar-todo';
    rest.textContent = '━'.repeat(BAR_WIDTH - filled);
    const mean = trainingFigures(logs);
    const means = Object.keys(mean)
      .sort()
      .map((name) => `${name} ${mean[name].toFixed(4)}`)
      .join(' - ');
    const tail = ` ${Math.round(ms / 1000)}s ${perStep(ms / step)}${formatLogs(trainingFigures(printed ?? logs))}` + (printed ? ` (epoch mean: ${means})` : '');
    this.current.replaceChildren(count, bar, rest, tail);
    if (done) this.current = undefined;
  }
}
