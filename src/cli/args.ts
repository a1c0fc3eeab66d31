// What the command-line tools share: integer options, checked with one message,
// and a process that does not outlive the one that started it.

/** `--name`'s value as an integer >= `min`, or undefined when it was not given. */
export function integerOption(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  return value;
}

/**
 * Exits (status 1) when the process that started this one is gone: `npm run`
 * killed with SIGKILL cannot pass the signal on, and its child would go on
 * alone (writing checkpoints, holding the GPU). Checked every second.
 */
export function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid === parent) return;
    console.error(`error: the process that started this one (${parent}) is gone: stopping`);
    process.exit(1);
  }, 1000).unref();
}
