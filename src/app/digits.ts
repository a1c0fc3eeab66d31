// Drawing MNIST digits and a prediction's class probabilities (2D canvas and DOM).
import { pixelValues, type Dataset } from '../engine';

/** The pixels of image `index` of `data`, H*W values in 0..1 (made from its bytes: the page never makes the whole set's floats). */
export function imageOf(data: Dataset, index: number): Float32Array {
  const size = data.height * data.width;
  return pixelValues(data.pixels.subarray(index * size, (index + 1) * size));
}

/**
 * A canvas showing `values` (width x height, row-major) in grey: `ink(v)` says
 * how dark each value is, 0 white to 1 black. CSS scales it up with
 * `image-rendering: pixelated`.
 */
export function grayCanvas(
  values: ArrayLike<number>,
  width: number,
  height: number,
  ink: (value: number) => number,
  canvas = document.createElement('canvas'),
): HTMLCanvasElement {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const gray = Math.round(255 * (1 - Math.min(1, Math.max(0, ink(values[i])))));
    image.data.set([gray, gray, gray, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** One image with matplotlib's 'binary' colormap (0 white, 1 black), as the tutorial's `plt.imshow(image, cmap='binary')`. */
export function digitCanvas(pixels: ArrayLike<number>, width: number, height: number, canvas = document.createElement('canvas')): HTMLCanvasElement {
  grayCanvas(pixels, width, height, (v) => v, canvas);
  canvas.classList.add('digit');
  return canvas;
}

/** The tutorial's grid of the first training images, each titled `Label: N`. */
export function showSamples(container: HTMLElement, data: Dataset, count = 10): void {
  container.replaceChildren();
  for (let i = 0; i < Math.min(count, data.count); i++) {
    const figure = document.createElement('figure');
    const caption = document.createElement('figcaption');
    caption.textContent = `Label: ${data.labels[i]}`;
    figure.append(caption, digitCanvas(imageOf(data, i), data.width, data.height));
    container.append(figure);
  }
}

/** The class with the highest probability. */
export function argmax(probabilities: ArrayLike<number>): number {
  let best = 0;
  for (let c = 1; c < probabilities.length; c++) if (probabilities[c] > probabilities[best]) best = c;
  return best;
}

/**
 * One bar per class, the argmax and the true label (if known) marked; returns
 * the argmax. Each row carries its exact probability in `data-probability` (the bar shows it rounded).
 */
export function showProbabilities(container: HTMLElement, probabilities: Float32Array, label?: number): number {
  const best = argmax(probabilities);
  container.replaceChildren();
  probabilities.forEach((p, c) => {
    const row = document.createElement('div');
    row.className = 'bar-row';
    row.dataset.probability = String(p);
    row.title = `class ${c}: p = ${p}`;
    row.classList.toggle('argmax', c === best);
    row.classList.toggle('label', c === label);
    const name = document.createElement('span');
    name.className = 'bar-class';
    name.textContent = String(c);
    const track = document.createElement('span');
    track.className = 'bar-track';
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${(100 * p).toFixed(2)}%`;
    track.append(bar);
    const value = document.createElement('span');
    value.className = 'bar-value';
    value.textContent = p.toExponential(2);
    row.append(name, track, value);
    container.append(row);
  });
  return best;
}
