// What the command-line tools share: integer options, checked with one message.

/** `--name`'s value as an integer >= `min`, or undefined when it was not given. */
export function integerOption(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  return value;
}
