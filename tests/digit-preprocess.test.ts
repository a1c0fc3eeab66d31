// The page's drawing to MNIST input (src/app/digitPreprocess.ts): blobs of known
// shape and place come out scaled into 20 px and centred by their centre of mass in 28x28.
import { describe, expect, test } from 'vitest';
import { INK_BOX, inkExtent, mnistInput, MNIST_SIDE } from '../src/app/digitPreprocess';

const SIDE = 280;

/** A SIDE x SIDE picture with ink where `inside(x, y)` holds for the pixel's centre. */
function picture(inside: (x: number, y: number) => boolean): Float32Array {
  const ink = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) if (inside(x + 0.5, y + 0.5)) ink[y * SIDE + x] = 1;
  return ink;
}

const ellipse = (cx: number, cy: number, rx: number, ry: number) => (x: number, y: number) => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
const rectangle = (left: number, top: number, width: number, height: number) => (x: number, y: number) =>
  x >= left && x < left + width && y >= top && y < top + height;
// An L: a tall bar and a foot to its right, so that its centre of mass is off its box's centre.
const ell = (left: number, top: number) => (x: number, y: number) =>
  rectangle(left, top, 30, 160)(x, y) || rectangle(left, top + 130, 110, 30)(x, y);

const cases = [
  { name: 'tall ellipse rx=30 ry=75 at (70, 170)', shape: ellipse(70, 170, 30, 75), tall: true },
  { name: 'wide ellipse rx=100 ry=20 at (160, 60)', shape: ellipse(160, 60, 100, 20), tall: false },
  { name: 'L 110x160 at (150, 10)', shape: ell(150, 10), tall: true },
  { name: 'square 7x7 at (0, 0), scaled up', shape: rectangle(0, 0, 7, 7), tall: true },
  { name: 'square 280x280, the whole picture', shape: rectangle(0, 0, 280, 280), tall: true },
];

describe.each(cases)('$name', ({ shape, tall }) => {
  const out = mnistInput(picture(shape), SIDE, SIDE)!;
  const extent = inkExtent(out, MNIST_SIDE, MNIST_SIDE)!;

  test('its centre of mass lands at (14, 14) within half a pixel', () => {
    expect(Math.abs(extent.centreX - MNIST_SIDE / 2)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(extent.centreY - MNIST_SIDE / 2)).toBeLessThanOrEqual(0.5);
  });

  test('its box fits 20 px, its larger side exactly', () => {
    const width = extent.right - extent.left;
    const height = extent.bottom - extent.top;
    expect(Math.max(width, height)).toBe(INK_BOX);
    expect(tall ? height : width).toBe(INK_BOX);
    expect(Math.min(width, height)).toBeLessThanOrEqual(INK_BOX);
  });

  test('its values stay in 0..1', () => {
    expect(out.every((v) => v >= 0 && v <= 1)).toBe(true);
  });
});

test('the L is centred by its centre of mass, not by its box', () => {
  const out = mnistInput(picture(ell(150, 10)), SIDE, SIDE)!;
  const extent = inkExtent(out, MNIST_SIDE, MNIST_SIDE)!;
  const boxCentreX = (extent.left + extent.right) / 2;
  // The bar is on the left and heavier: the box sits to the right of the middle.
  expect(boxCentreX).toBeGreaterThan(MNIST_SIDE / 2 + 1);
  expect(Math.abs(extent.centreX - MNIST_SIDE / 2)).toBeLessThanOrEqual(0.5);
});

test('a 200x200 square becomes a 20x20 block of ones at [4, 24)', () => {
  const out = mnistInput(picture(rectangle(30, 50, 200, 200)), SIDE, SIDE)!;
  for (let y = 0; y < MNIST_SIDE; y++) {
    for (let x = 0; x < MNIST_SIDE; x++) {
      const inside = x >= 4 && x < 24 && y >= 4 && y < 24;
      expect(out[y * MNIST_SIDE + x], `pixel (${x}, ${y})`).toBeCloseTo(inside ? 1 : 0, 6);
    }
  }
});

test('strokes are averaged over each target pixel (anti-aliased), keeping their share of ink', () => {
  // A 200-px tall stroke 4 px wide is its own box: it becomes one column, at least a pixel wide, as in MNIST's ones.
  const out = mnistInput(picture(rectangle(100, 40, 4, 200)), SIDE, SIDE)!;
  const values = Array.from(out).filter((v) => v > 0);
  expect(values.length).toBe(INK_BOX);
  for (const v of values) expect(v).toBeCloseTo(1, 6);
  // Two such strokes 12 px apart: a 20x200 box, scaled by 1/10 to two columns that each hold 4 of their 10 source columns' ink.
  const two = mnistInput(picture((x, y) => rectangle(100, 40, 4, 200)(x, y) || rectangle(116, 40, 4, 200)(x, y)), SIDE, SIDE)!;
  const grey = Array.from(two).filter((v) => v > 0);
  expect(grey.length).toBe(2 * INK_BOX);
  for (const v of grey) expect(v).toBeCloseTo(0.4, 6);
  // Mass is kept: 2 x 4 x 200 source pixels at 1/100 of a pixel each.
  expect(two.reduce((sum, v) => sum + v, 0)).toBeCloseTo(16, 4);
});

test('a blank picture has no input', () => {
  expect(mnistInput(new Float32Array(SIDE * SIDE), SIDE, SIDE)).toBeNull();
});

test('a picture of the wrong size is refused, naming the sizes', () => {
  expect(() => mnistInput(new Float32Array(10), SIDE, SIDE)).toThrow('mnistInput(): 10 values for a 280x280 picture');
});
