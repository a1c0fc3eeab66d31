// What the command-line tools print alike: where the data came from, the waits
// before training (compiling, tuning, uploading) on the terminal's progress
// line, and a test evaluation's progress.
import { isAbsolute, relative } from 'node:path';
import { describeSetup, progressLine, stdoutProgress, type Callback, type Mnist, type SetupListener } from '../node';

/** A path as the command line names it: relative to the working directory when inside it. */
export function shownPath(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside && !inside.startsWith('..') && !isAbsolute(inside) ? inside : path;
}

const count = (n: number) => n.toLocaleString('en-US');

/** `data: public/mnist (the official MNIST, SHA-256 checked): 3,000 of 60,000 training images, 10,000 of 10,000 test images`. */
export function dataLine(mnist: Mnist & { dir: string }, used: { train?: number; test: number }): string {
  const kind = mnist.official ? 'the official MNIST, SHA-256 checked' : 'not the official MNIST';
  const train = used.train === undefined ? '' : `${count(used.train)} of ${count(mnist.train.count)} training images, `;
  return `data: ${shownPath(mnist.dir)} (${kind}): ${train}${count(used.test)} of ${count(mnist.test.count)} test images`;
}

/** A tuning notice, once, on a line of its own: not inside the progress bar. */
export const noticeOnTerminal = (message: string) => stdoutProgress.line(message);

/** Compiling, tuning and uploading, on the progress line of a terminal (where `stdoutProgress.update` writes). */
export const setupOnTerminal: SetupListener = (progress) => stdoutProgress.update(describeSetup(progress));

/** A test evaluation's progress on the terminal's progress line: `test 40/79 ━━━━━━━━━━ 1s 27ms/step - accuracy: ...`. */
export function testProgress(steps: number): Callback {
  const rest = stdoutProgress.rest?.bind(stdoutProgress);
  let started = 0;
  return {
    onTestBegin: () => void (started = performance.now()),
    onTestBatchEnd: (batch, logs) => {
      const seconds = (performance.now() - started) / 1000;
      stdoutProgress.update(`test ${progressLine({ step: batch + 1, steps, seconds, msPerStep: (seconds * 1000) / (batch + 1) }, logs, rest)}`);
    },
  };
}
