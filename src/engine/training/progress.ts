// Keras' training log (fit's `verbose`): `Epoch 1/5`, then a progress line
// updated at each progress update and written whole at the epoch's end:
//   469/469 ━━━━━━━━━━━━━━━━━━━━ 4s 8ms/step - accuracy: 0.9939 - loss: 0.0196
// with the figures Keras 3 prints, and at the epoch's end its means after them.
import type { Logs } from '../graph';
import type { Callback } from './callbacks';

/** Where the log goes: `update` rewrites the line in progress (a terminal), `line` ends it and writes a line of its own. */
export interface ProgressWriter {
  update(text: string): void;
  line(text: string): void;
  /** The bar's part still to come, `width` characters (spaces by default; dim on a terminal). */
  rest?(width: number): string;
}

let writer: ProgressWriter | undefined;

/** Where fit's verbose log goes by default (the Node entry: stdout); none in a browser, where fit is silent by default. */
export function setProgressWriter(to: ProgressWriter | undefined): void {
  writer = to;
}

export function progressWriter(): ProgressWriter | undefined {
  return writer;
}

const BAR_WIDTH = 20;

/** `- accuracy: 0.9939 - loss: 0.0196`: each figure to 4 places, in the order Keras 3 prints them (by name). */
export function formatLogs(logs: Logs): string {
  return Object.keys(logs)
    .sort()
    .map((name) => ` - ${name}: ${logs[name].toFixed(4)}`)
    .join('');
}

/** Keras' progress line after `step` of `steps` steps, `seconds` into the epoch. */
export function progressLine(at: { step: number; steps: number; seconds: number; msPerStep: number }, printed: Logs, rest = (width: number) => ' '.repeat(width)): string {
  const done = Math.round((BAR_WIDTH * at.step) / at.steps);
  const bar = '━'.repeat(done) + rest(BAR_WIDTH - done);
  const pad = String(at.steps).length;
  return `${String(at.step).padStart(pad)}/${at.steps} ${bar} ${Math.round(at.seconds)}s ${Math.round(at.msPerStep)}ms/step${formatLogs(printed)}`;
}

/** The callback that writes Keras' log; `bar`: the progress line at each update too (verbose 1), not only at the epoch's end. */
export function progressPrinter(to: ProgressWriter, { epochs, steps, bar }: { epochs: number; steps: number; bar: boolean }): Callback {
  let started = 0;
  const rest = to.rest?.bind(to);
  return {
    onEpochBegin(epoch) {
      to.line(`Epoch ${epoch + 1}/${epochs}`);
      started = performance.now();
    },
    onTrainBatchEnd(batch, logs, { printed }) {
      if (!bar) return;
      const seconds = (performance.now() - started) / 1000;
      to.update(progressLine({ step: batch + 1, steps, seconds, msPerStep: (seconds * 1000) / (batch + 1) }, printed ?? logs, rest));
    },
    onEpochEnd(_epoch, logs, details) {
      const { msPerStep } = details;
      const means = Object.keys(details.printed)
        .sort()
        .map((name) => `${name} ${logs[name].toFixed(4)}`)
        .join(', ');
      // Keras' figures for what it prints its own way (loss, metrics), the logs' for the rest (val_loss, learning_rate).
      const line = progressLine({ step: steps, steps, seconds: (msPerStep * steps) / 1000, msPerStep }, { ...logs, ...details.printed }, rest);
      to.line(`${line} (epoch mean: ${means})`);
    },
  };
}
