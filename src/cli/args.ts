// What the command-line tools share: integer options, checked with one message.

/** `--name`'s value as an integer >= `min`, or undefined when it was not given. */
export function integerOption(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
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
