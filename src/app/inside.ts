// The Inside view: the first convolution layer's filters and, for one image, the
// feature maps of every layer with an image-shaped output (convolutions and pooling), in grey.
//
// Shapes: a conv2d kernel is [KH, KW, C_in, C_out]; a layer output is [H, W, C] per image.
import type { Model } from '../engine';
import { grayCanvas } from './digits';

/** Shown size of a map or filter, in CSS pixels, whatever its size in pixels. */
const MAP_PX = 56;
const FILTER_PX = 36;

function figure(canvas: HTMLCanvasElement, caption: string, px: number): HTMLElement {
  canvas.classList.add('map');
  canvas.style.width = canvas.style.height = `${px}px`;
  const element = document.createElement('figure');
  const text = document.createElement('figcaption');
  text.textContent = caption;
  element.append(canvas, text);
  return element;
}

function block(title: string, note: string, figures: HTMLElement[]): HTMLElement {
  const element = document.createElement('div');
  element.className = 'maps-block';
  const heading = document.createElement('h3');
  heading.textContent = title;
  const p = document.createElement('p');
  p.className = 'muted';
  p.textContent = note;
  const grid = document.createElement('div');
  grid.className = 'maps';
  grid.append(...figures);
  element.append(heading, p, grid);
  return element;
}

/**
 * Draws the model's first-layer filters and its feature maps for `image`
 * into `container`; returns false (drawing nothing) for a model without a convolution.
 */
export async function showInside(container: HTMLElement, model: Model, image: Float32Array): Promise<boolean> {
  const first = model.layers.findIndex((layer) => layer.type === 'conv2d');
  if (first < 0) {
    container.replaceChildren();
    return false;
  }
  const [weights, outputs] = await Promise.all([model.getWeights(), model.layerOutputs(image)]);
  const kernel = weights.find((w) => w.name === `layers.${first}.kernel`);
  if (!kernel) throw new Error(`the model has no weight layers.${first}.kernel (it has ${weights.map((w) => w.name).join(', ')})`);
  const [kh, kw, cIn, cOut] = kernel.shape;
  // One scale for all filters, so that their strengths compare: grey is 0, dark positive, light negative.
  const largest = kernel.values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
  const filters = Array.from({ length: cOut }, (_, o) => {
    const values = new Float32Array(kh * kw);
    for (let i = 0; i < kh * kw; i++) values[i] = kernel.values[(i * cIn + 0) * cOut + o];
    return figure(grayCanvas(values, kw, kh, (v) => 0.5 + v / (2 * largest)), String(o), FILTER_PX);
  });
  const blocks = [
    block(
      `Filters of layer ${first} (conv2d): ${cOut} of ${kh}x${kw}`,
      `From getWeights(), layers.${first}.kernel [${kernel.shape.join(', ')}]${cIn > 1 ? `, input channel 0 of ${cIn}` : ''}. Grey is 0, darker positive, lighter negative, on one scale (±${largest.toPrecision(3)}).`,
      filters,
    ),
  ];

  for (const output of outputs) {
    if (output.shape.length !== 3) continue;
    const [h, w, c] = output.shape;
    const maps = Array.from({ length: c }, (_, channel) => {
      const values = new Float32Array(h * w);
      for (let i = 0; i < h * w; i++) values[i] = output.values[i * c + channel];
      // Each map on its own scale, 0 white to its largest value black: ReLU maps differ a lot in size.
      const max = values.reduce((m, v) => Math.max(m, v), 0);
      const min = values.reduce((m, v) => Math.min(m, v), 0);
      return figure(grayCanvas(values, w, h, (v) => (max > min ? (v - min) / (max - min) : 0)), String(channel), MAP_PX);
    });
    blocks.push(block(`${output.name}: ${h}x${w}x${c}`, 'Each map on its own scale: white its smallest value (0 after ReLU), black its largest.', maps));
  }
  container.replaceChildren(...blocks);
  return true;
}
