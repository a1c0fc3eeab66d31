// Float64 CPU reference for gather.wgsl: the rows of a batch picked by index
// from a column of a data set, rows of R values; and the bytes form.

/** y[r] = x[indices[r]], rows of R values. */
export function gather(x: ArrayLike<number>, indices: ArrayLike<number>, R: number): Float64Array {
  const y = new Float64Array(indices.length * R);
  for (let r = 0; r < indices.length; r++) for (let c = 0; c < R; c++) y[r * R + c] = x[indices[r] * R + c];
  return y;
}

/** The values of `count` bytes packed four to a u32, little-endian: byte / 255. */
export function unpackBytes(words: ArrayLike<number>, count: number): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => ((words[Math.floor(i / 4)] >>> (8 * (i % 4))) & 0xff) / 255);
}

/** Bytes packed four to a u32, little-endian, the last word padded with zeros. */
export function packBytes(bytes: Uint8Array): Uint32Array {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  return Uint32Array.from({ length: padded.length / 4 }, (_, w) => padded[4 * w] | (padded[4 * w + 1] << 8) | (padded[4 * w + 2] << 16) | ((padded[4 * w + 3] << 24) >>> 0));
}
