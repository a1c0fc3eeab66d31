// Drawing MNIST digits and a prediction's class probabilities (2D canvas and DOM).
import type { Dataset } from '../engine';

/** The pixels of image `index` of `data`, H*W values in 0..1. */
export function imageOf(data: Dataset, index: number): Float32Array {
  const size = data.height * data.width;
  return data.images.subarray(index * size, (index + 1) * size);
}

/**
 * A canvas showing one image with matplotlib's 'binary' colormap (0 white,
 * 1 black), as the tutorial's `plt.imshow(image, cmap='binary')`. CSS scales
 * it up with `image-rendering: pixelated`.
 */
export function digitCanvas(pixels: Float32Array, width: number, height: number, canvas = document.createElement('canvas')): HTMLCanvasElement {
  canvas.width = width;
  canvas.height = height;
  canvas.classList.add('digit');
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const gray = Math.round(255 * (1 - Math.min(1, Math.max(0, pixels[i]))));
    image.data.set([gray, gray, gray, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
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

/** One bar per class, the argmax and the true label marked; returns the argmax. */
export function showProbabilities(container: HTMLElement, probabilities: Float32Array, label: number): number {
  let argmax = 0;
  for (let c = 1; c < probabilities.length; c++) if (probabilities[c] > probabilities[argmax]) argmax = c;
  container.replaceChildren();
  probabilities.forEach((p, c) => {
    const row = document.createElement('div');
    row.className = 'bar-row';
    row.classList.toggle('argmax', c === argmax);
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
  return argmax;
}
