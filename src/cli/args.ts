// What the command-line tools share: integer and number options, checked with one message each,
// and the options parsed with a usage and a "did you mean" for what is not one.
import { parseArgs, type ParseArgsConfig } from 'node:util';

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

/** Edits (insertions, deletions, substitutions) that turn `a` into `b`. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/** The known option nearest to `given` (a typo's, or a prefix's), if one is near enough to be meant. */
function nearest(given: string, known: string[]): string | undefined {
  const name = given.replace(/^-+/, '').split('=')[0];
  const scored = known.map((option) => ({ option, score: option.startsWith(name) && name.length >= 3 ? 0 : distance(name, option) }));
  const best = scored.reduce((a, b) => (b.score < a.score ? b : a), { option: '', score: Infinity });
  return best.score <= Math.max(1, Math.floor(name.length / 3)) ? best.option : undefined;
}

/**
 * The command's options parsed (node:util's parseArgs, strict); an unknown
 * option or a stray argument is refused with the usage, and an unknown option
 * with the one it is nearest to: `unknown option '--epoch' (did you mean '--epochs'?)`.
 */
export function parseOptions<const T extends NonNullable<ParseArgsConfig['options']>>(options: T, usage: string) {
  try {
    return parseArgs({ options }).values;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const given = /'([^']+)'/.exec(message)?.[1] ?? '';
      const meant = nearest(given, Object.keys(options));
      throw new Error(`unknown option '${given}'${meant ? ` (did you mean '--${meant}'?)` : ''}\n${usage}`);
    }
    if (code?.startsWith('ERR_PARSE_ARGS_')) throw new Error(`${message}\n${usage}`);
    throw error;
  }
}
