// Keras' training log (fit's `verbose`): `Epoch 1/5`, then a progress line
// updated at each progress update and written whole at the epoch's end:
//   469/469 ━━━━━━━━━━━━━━━━━━━━ 4s 8ms/step - accuracy: 0.9939 - loss: 0.0196
// with the figures Keras 3 prints, and at the epoch's end its means after them.
import type { Logs } from '../graph';
import { formatMs } from '../profile';
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
  const rest = to.rest?.bind(to);
  return {
    onEpochBegin(epoch) {
      to.line(`Epoch ${epoch + 1}/${epochs}`);
    },
    onTrainBatchEnd(batch, logs, { printed, seconds, msPerStep }) {
      if (bar) to.update(progressLine({ step: batch + 1, steps, seconds, msPerStep }, printed ?? logs, rest));
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

/** The callback that writes evaluate's bar (verbose 1), as Keras does: `79/79 ━━━━━━━━━━━━━━━━━━━━ 3s 35ms/step - accuracy: 0.9907 - loss: 0.0291`. */
export function evaluationPrinter(to: ProgressWriter, steps: number): Callback {
  const rest = to.rest?.bind(to);
  let started = 0;
  let step = 0;
  const line = (logs: Logs) => {
    const seconds = (performance.now() - started) / 1000;
    return progressLine({ step, steps, seconds, msPerStep: (seconds * 1000) / Math.max(1, step) }, logs, rest);
  };
  return {
    onTestBegin() {
      started = performance.now();
    },
    onTestBatchEnd(batch, logs) {
      step = batch + 1;
      to.update(line(logs));
    },
    onTestEnd(logs) {
      to.line(line(logs));
    },
  };
}

/** Runs that would end within this many seconds get no estimate. */
const SHORT_RUN_S = 60;

/** `2 h 5 min`, `40 min`, `90 s`. */
export function formatDuration(seconds: number): string {
  if (seconds < 100) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/**
 * `about 40 min on this adapter: 125 ms/step measured over the first 24 steps`:
 * what the `stepsLeft` steps still to run would take at the speed measured so
 * far, or null when that is under a minute.
 */
export function runEstimate({ msPerStep, measured, stepsLeft }: { msPerStep: number; measured: number; stepsLeft: number }): string | null {
  const seconds = (msPerStep * stepsLeft) / 1000;
  if (seconds < SHORT_RUN_S) return null;
  return `about ${formatDuration(seconds)} on this adapter: ${formatMs(msPerStep)} ms/step measured over the first ${measured} steps, ${stepsLeft.toLocaleString('en-US')} steps to go`;
}

/**
 * A callback that tells `say` the run's estimate (runEstimate) at its first
 * progress update, when the rest of the run (`epochs` of `steps` steps) would
 * last over a minute at the speed of its first steps.
 */
export function runEstimator({ epochs, steps }: { epochs: number; steps: number }, say: (estimate: string) => void): Callback {
  let told = false;
  return {
    onTrainBatchEnd(batch, _logs, { epoch, seconds, msPerStep }) {
      if (told) return;
      told = true;
      const estimate = runEstimate({ msPerStep, measured: Math.round((seconds * 1000) / msPerStep), stepsLeft: (epochs - epoch) * steps - (batch + 1) });
      if (estimate) say(estimate);
    },
  };
}
