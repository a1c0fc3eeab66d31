// A drawn digit made into an MNIST input, the way MNIST's images were made: the
// ink's bounding box scaled, anti-aliased, into 20x20, then centred by its centre of mass in 28x28.
//
// Coordinates are continuous: pixel (x, y) covers [x, x+1) x [y, y+1), so the
// middle of a 28x28 image is (14, 14).

export const MNIST_SIDE = 28;
/** The side of the box the ink's larger side is scaled to; the rest is margin. */
export const INK_BOX = 20;

/** Where a picture's ink is: its bounding box in whole pixels, and its centre of mass. */
export interface InkExtent {
  left: number;
  top: number;
  /** Exclusive. */
  right: number;
  bottom: number;
  mass: number;
  centreX: number;
  centreY: number;
}

/** The ink of a width x height picture (values 0..1, row-major); null when it has none. */
export function inkExtent(ink: ArrayLike<number>, width: number, height: number): InkExtent | null {
  let left = width;
  let top = height;
  let right = 0;
  let bottom = 0;
  let mass = 0;
  let sumX = 0;
  let sumY = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = ink[y * width + x];
      if (v <= 0) continue;
      left = Math.min(left, x);
      right = Math.max(right, x + 1);
      top = Math.min(top, y);
      bottom = Math.max(bottom, y + 1);
      mass += v;
      sumX += v * (x + 0.5);
      sumY += v * (y + 0.5);
    }
  }
  if (mass === 0) return null;
  return { left, top, right, bottom, mass, centreX: sumX / mass, centreY: sumY / mass };
}

/**
 * How much of each source pixel [from + i, from + i + 1) falls in each of `to`
 * target pixels when `length` source pixels are stretched over them: an area
 * (box) filter, which averages rather than samples, so thin strokes come out
 * grey instead of vanishing. Row t of the result holds target pixel t's weights; each row sums to 1.
 */
function boxWeights(length: number, to: number): Float64Array[] {
  const scale = length / to;
  return Array.from({ length: to }, (_, t) => {
    const weights = new Float64Array(length);
    const start = t * scale;
    const end = (t + 1) * scale;
    for (let i = Math.floor(start); i < Math.min(length, Math.ceil(end)); i++) {
      weights[i] = (Math.min(end, i + 1) - Math.max(start, i)) / scale;
    }
    return weights;
  });
}

/**
 * The MNIST input (28x28, row-major, 0..1) for a picture's ink (width x height,
 * 0 = paper, 1 = ink), or null for a blank picture. The box is scaled so that
 * its larger side is 20 px; the 20-px image is then placed at the whole-pixel
 * offset that brings its centre of mass nearest (14, 14), as MNIST did. Ink
 * that would fall outside 28x28 (a very lopsided drawing) is cut off.
 */
export function mnistInput(ink: ArrayLike<number>, width: number, height: number): Float32Array | null {
  if (ink.length !== width * height) throw new Error(`mnistInput(): ${ink.length} values for a ${width}x${height} picture`);
  const extent = inkExtent(ink, width, height);
  if (!extent) return null;
  const boxWidth = extent.right - extent.left;
  const boxHeight = extent.bottom - extent.top;
  const scale = INK_BOX / Math.max(boxWidth, boxHeight);
  const outWidth = Math.max(1, Math.round(boxWidth * scale));
  const outHeight = Math.max(1, Math.round(boxHeight * scale));
  const columns = boxWeights(boxWidth, outWidth);
  const rows = boxWeights(boxHeight, outHeight);

  // Separable: first each source row into outWidth columns, then the rows together.
  const narrowed = new Float64Array(boxHeight * outWidth);
  for (let y = 0; y < boxHeight; y++) {
    const offset = (extent.top + y) * width + extent.left;
    for (let u = 0; u < outWidth; u++) {
      const weights = columns[u];
      let sum = 0;
      for (let x = 0; x < boxWidth; x++) if (weights[x] > 0) sum += weights[x] * ink[offset + x];
      narrowed[y * outWidth + u] = sum;
    }
  }
  const small = new Float32Array(outHeight * outWidth);
  for (let v = 0; v < outHeight; v++) {
    const weights = rows[v];
    for (let u = 0; u < outWidth; u++) {
      let sum = 0;
      for (let y = 0; y < boxHeight; y++) if (weights[y] > 0) sum += weights[y] * narrowed[y * outWidth + u];
      small[v * outWidth + u] = Math.min(1, sum);
    }
  }

  const centre = inkExtent(small, outWidth, outHeight)!;
  const half = MNIST_SIDE / 2;
  const dx = Math.round(half - centre.centreX);
  const dy = Math.round(half - centre.centreY);
  const out = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  for (let v = 0; v < outHeight; v++) {
    const y = v + dy;
    if (y < 0 || y >= MNIST_SIDE) continue;
    for (let u = 0; u < outWidth; u++) {
      const x = u + dx;
      if (x >= 0 && x < MNIST_SIDE) out[y * MNIST_SIDE + x] = small[v * outWidth + u];
    }
  }
  return out;
}
