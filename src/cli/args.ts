// What the command-line tools share: options checked with one message each
// (parsed with a usage and a "did you mean" for what is not one), and a
// process that does not outlive the one that started it.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * `--name`'s value as an integer from `min` to `max`, or undefined when it
 * was not given. Decimal digits only: `0x2`, `1e1`, `2.0` and `-1` are
 * refused, as is a value past `max`, rather than read as another number.
 */
export function integerOption(name: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min)) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  if (value > max) throw new Error(`--${name} must be at most ${max}, got '${text}'`);
  return value;
}

/** `--name`'s value as a path, or undefined when it was not given; an empty one is refused (it would name nothing). */
export function pathOption(name: string, text: string | undefined): string | undefined {
  if (text === '') throw new Error(`--${name} needs a path, got ''`);
  return text;
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

/** `--name`'s value as a finite number in (`above`, `below`), or undefined when it was not given. */
export function numberOption(name: string, text: string | undefined, { above, below = Infinity }: { above: number; below?: number }): number | undefined {
  if (text === undefined) return undefined;
  // Decimal only, as integers are: `0x10` is refused rather than read as 16; `1e-3` is a decimal.
  const value = /^(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text) ? Number(text) : NaN;
  if (!(value > above && value < below)) {
    throw new Error(`--${name} must be a number above ${above}${below === Infinity ? '' : ` and below ${below}`}, got '${text}'`);
  }
  return value;
}

/** How `--pixels` feeds MNIST's bytes to a model: `unit` (the default), byte / 255 as the Keras tutorial scales them; `raw`, 0..255 as some models were trained. */
export type PixelScale = 'unit' | 'raw';

export function pixelsOption(text: string | undefined): PixelScale {
  if (text === undefined || text === 'unit' || text === 'raw') return text ?? 'unit';
  throw new Error(`--pixels must be unit or raw, got '${text}'`);
}

/** Pixel bytes as a model's inputs: the bytes themselves (the engine divides them by 255) or, raw, their values as floats. */
export const pixelInputs = (pixels: Uint8Array, scale: PixelScale): Uint8Array | Float32Array => (scale === 'raw' ? Float32Array.from(pixels) : pixels);

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
