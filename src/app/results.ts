// The Results view's pieces: predictions over the test set, their confusion
// matrix (a table with row and column sums) and a grid of test images sorted by confidence.
import type { Dataset } from '../engine';
import { argmax, digitCanvas, imageOf } from './digits';

/** What a model said about each of the first `count` images of a dataset. */
export interface Predictions {
  count: number;
  classes: number;
  labels: Uint8Array;
  predicted: Uint8Array;
  /** The predicted class's probability. */
  confidence: Float32Array;
}

/** Predictions from `predict()`'s [count, classes] probabilities. */
export function predictionsOf(probabilities: Float32Array, labels: Uint8Array, classes: number): Predictions {
  const count = probabilities.length / classes;
  if (count !== labels.length) throw new Error(`predictionsOf(): ${count} predictions for ${labels.length} labels`);
  const predicted = new Uint8Array(count);
  const confidence = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const row = probabilities.subarray(i * classes, (i + 1) * classes);
    predicted[i] = argmax(row);
    confidence[i] = row[predicted[i]];
  }
  return { count, classes, labels, predicted, confidence };
}

/** counts[label][predicted]. */
export function confusionMatrix(p: Predictions): number[][] {
  const counts = Array.from({ length: p.classes }, () => new Array<number>(p.classes).fill(0));
  for (let i = 0; i < p.count; i++) counts[p.labels[i]][p.predicted[i]]++;
  return counts;
}

function cell(tag: 'td' | 'th', text: string | number, className = ''): HTMLTableCellElement {
  const element = document.createElement(tag);
  element.textContent = String(text);
  if (className) element.className = className;
  return element;
}

/**
 * The confusion matrix as a table: a row per true label, a column per
 * prediction, their sums, and the total. A cell is shaded by its share of its
 * row; clicking a cell calls `onPick(label, predicted)`.
 */
export function showConfusion(container: HTMLElement, p: Predictions, onPick: (label: number, predicted: number) => void): void {
  const counts = confusionMatrix(p);
  const classes = counts.length;
  const table = document.createElement('table');
  table.className = 'confusion';
  const head = table.createTHead().insertRow();
  head.append(cell('th', 'true \\ predicted', 'corner'));
  for (let c = 0; c < classes; c++) head.append(cell('th', c));
  head.append(cell('th', 'Σ', 'sum'));
  const body = table.createTBody();
  const columnSums = new Array<number>(classes).fill(0);
  counts.forEach((row, label) => {
    const tr = body.insertRow();
    tr.append(cell('th', label));
    const rowSum = row.reduce((a, b) => a + b, 0);
    row.forEach((count, predicted) => {
      columnSums[predicted] += count;
      const td = cell('td', count, label === predicted ? 'right' : count > 0 ? 'wrong' : 'zero');
      const share = rowSum > 0 ? count / rowSum : 0;
      // Shaded by its share of the row; mistakes are rare, so their shade is stretched to show.
      const alpha = label === predicted ? share * 0.6 : Math.min(0.6, Math.sqrt(share) * 0.8);
      td.style.backgroundColor = label === predicted ? `rgba(26, 127, 55, ${alpha})` : `rgba(207, 34, 46, ${alpha})`;
      td.title = `true ${label}, predicted ${predicted}: ${count} image${count === 1 ? '' : 's'}`;
      if (count > 0) td.addEventListener('click', () => onPick(label, predicted));
      tr.append(td);
    });
    tr.append(cell('td', rowSum, 'sum'));
  });
  const foot = table.createTFoot().insertRow();
  foot.append(cell('th', 'Σ', 'sum'));
  for (const sum of columnSums) foot.append(cell('td', sum, 'sum'));
  foot.append(cell('td', p.count, 'sum total'));
  container.replaceChildren(table);
}

export type Order = 'mistakes' | 'least-confident' | 'most-confident' | 'index';

/** Indices of the test images in the order asked for, of one confusion cell if `only` is given. */
export function sortedIndices(p: Predictions, order: Order, only?: { label: number; predicted: number }): number[] {
  let indices = Array.from({ length: p.count }, (_, i) => i);
  if (only) indices = indices.filter((i) => p.labels[i] === only.label && p.predicted[i] === only.predicted);
  const wrong = (i: number) => p.labels[i] !== p.predicted[i];
  const byConfidence = (a: number, b: number) => p.confidence[a] - p.confidence[b];
  if (order === 'least-confident') indices.sort(byConfidence);
  if (order === 'most-confident') indices.sort((a, b) => byConfidence(b, a));
  // The most confident mistakes first (the model is surest and wrong), then the least confident right answers.
  if (order === 'mistakes') indices.sort((a, b) => Number(wrong(b)) - Number(wrong(a)) || (wrong(a) ? byConfidence(b, a) : byConfidence(a, b)));
  return indices;
}

/** The first `limit` images of `indices`, each captioned with its prediction; mistakes marked. */
export function showGallery(container: HTMLElement, data: Dataset, p: Predictions, indices: number[], limit: number): void {
  container.replaceChildren(
    ...indices.slice(0, limit).map((i) => {
      const figure = document.createElement('figure');
      const wrong = p.labels[i] !== p.predicted[i];
      figure.className = wrong ? 'mistake' : 'correct';
      figure.title = `test image ${i}: predicted ${p.predicted[i]} (p = ${p.confidence[i].toFixed(4)}), true label ${p.labels[i]}`;
      const caption = document.createElement('figcaption');
      caption.textContent = `${p.predicted[i]} · ${p.confidence[i].toFixed(2)}${wrong ? ` (${p.labels[i]})` : ''}`;
      figure.append(digitCanvas(imageOf(data, i), data.width, data.height), caption);
      return figure;
    }),
  );
}
