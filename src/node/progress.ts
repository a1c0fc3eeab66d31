// fit's verbose log on stdout: on a terminal the progress line is rewritten in
// place (the rest of the bar dim); elsewhere only whole lines are written.
import type { ProgressWriter } from '../engine/training/progress';

export const stdoutProgress: ProgressWriter = {
  update(text) {
    if (process.stdout.isTTY) process.stdout.write(`\r${text}\x1b[K`);
  },
  line(text) {
    process.stdout.write(process.stdout.isTTY ? `\r${text}\x1b[K\n` : `${text}\n`);
  },
  rest(width) {
    return process.stdout.isTTY ? `\x1b[2m${'━'.repeat(width)}\x1b[0m` : ' '.repeat(width);
  },
};
