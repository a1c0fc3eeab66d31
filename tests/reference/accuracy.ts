// CPU reference for accuracy.wgsl: predictions [N, C] row-major, labels [N].

/** The index of the first maximum of row i, as numpy's argmax. */
export function argmax(predictions: ArrayLike<number>, i: number, C: number): number {
  let best = 0;
  for (let j = 1; j < C; j++) if (predictions[i * C + j] > predictions[i * C + best]) best = j;
  return best;
}

/** The number of rows whose argmax is their label. */
export function accuracyForward(predictions: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number): number {
  let correct = 0;
  for (let i = 0; i < N; i++) if (argmax(predictions, i, C) === labels[i]) correct++;
  return correct;
}
