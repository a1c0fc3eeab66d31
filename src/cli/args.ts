// What the command-line tools share: integer and number options, checked with one message each.

/** `--name`'s value as an integer >= `min`, or undefined when it was not given. */
export function integerOption(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  return value;
}

/** `--name`'s value as a finite number in (`above`, `below`), or undefined when it was not given. */
export function numberOption(name: string, text: string | undefined, { above, below = Infinity }: { above: number; below?: number }): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || !(value > above && value < below)) {
    throw new Error(`--${name} must be a number above ${above}${below === Infinity ? '' : ` and below ${below}`}, got '${text}'`);
  }
  return value;
}
