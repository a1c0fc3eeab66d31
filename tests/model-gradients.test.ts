// Whole-model gradients: the Graph's `gradients` plan (forward, loss gradient,
// backward) against the float64 reference model, parameter by parameter, for
// each loss and the last layers it fits; the reference model's gradients
// against central differences of its own loss; and the loss (and accuracy)
// that `evaluate` accumulates.
import { describe, expect, test } from 'vitest';
import { readTensor, sizeOf, writeTensor } from '../src/engine/buffers';
import { Graph } from '../src/engine/graph';
import { averagePooling2d, batchNormalization, conv2d, dense, dropout, flatten, layerShapes, maxPooling2d, type LayerConfig } from '../src/engine/layers';
import type { LossConfig } from '../src/engine/losses';
import { optimizerConfig } from '../src/engine/ops/optimizer';
import { runDispatches } from '../src/engine/pipelines';
import { modelGradients, modelLoss, modelParamShapes, type ModelCase } from '../src/reference/model';
import { countCorrect } from '../src/reference/softmaxCrossEntropy';
import { expectClose, F32, GRADCHECK, numericGradient, randomArray, seededRandom, testGpu } from './helpers';

interface Case {
  name: string;
  layers: LayerConfig[];
  inputShape: number[];
  /** sparseCategoricalCrossentropy by default. */
  loss?: LossConfig;
}

/** The tutorial's MLP shrunk, ending in `last`: 6x6 -> 36 -> 16 -> last. */
const mlp = (last: LayerConfig): LayerConfig[] => [flatten({ inputShape: [6, 6] }), dense({ units: 16, activation: 'relu' }), last];

const cases: Case[] = [
  // The tutorial's CNN, shrunk: 10x10x1 -> 8x8x4 -> 4x4x4 -> 2x2x3 -> 12 -> 8 -> 5.
  {
    name: 'cnn',
    inputShape: [10, 10, 1],
    layers: [
      conv2d({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [10, 10, 1] }),
      maxPooling2d({ poolSize: 2 }),
      conv2d({ filters: 3, kernelSize: 3, activation: 'tanh' }),
      flatten(),
      dense({ units: 8, activation: 'sigmoid' }),
      dense({ units: 5, activation: 'softmax' }),
    ],
  },
  // The tutorial's MLP, shrunk: 6x6 -> 36 -> 16 -> 4.
  {
    name: 'mlp',
    inputShape: [6, 6],
    layers: [flatten({ inputShape: [6, 6] }), dense({ units: 16, activation: 'relu' }), dense({ units: 4, activation: 'softmax' })],
  },
  // What the tutorial leaves out: 'same' padding with stride 2, a linear layer,
  // overlapping pooling windows, a 1x1 kernel and a softmax that is not the last
  // layer's: 9x9x2 -> 5x5x4 -> 4x4x4 -> 4x4x3 -> 48 -> 6 -> 3.
  {
    name: 'strided',
    inputShape: [9, 9, 2],
    layers: [
      conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', inputShape: [9, 9, 2] }),
      maxPooling2d({ poolSize: 2, strides: 1 }),
      conv2d({ filters: 3, kernelSize: 1, activation: 'tanh' }),
      flatten(),
      dense({ units: 6, activation: 'softmax' }),
      dense({ units: 3, activation: 'softmax' }),
    ],
  },
  // Dropout after a convolution and after a dense layer: the gradients plan
  // runs the training forward, whose masks the reference draws from the same
  // seeds and step counts: 6x6x2 -> 4x4x3 -> 48 -> 8 -> 4.
  {
    name: 'dropout',
    inputShape: [6, 6, 2],
    layers: [
      conv2d({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [6, 6, 2] }),
      dropout({ rate: 0.4, seed: 1234 }),
      flatten(),
      dense({ units: 8, activation: 'tanh' }),
      dropout({ rate: 0.25, seed: 0xdeadbeef }),
      dense({ units: 4, activation: 'softmax' }),
    ],
  },
  // Average pooling first (before any parameter, so nothing asks for its dX),
  // then with 'same' padding hanging over the border, then overlapping:
  // 8x8x2 -> 7x7x2 -> 6x6x3 -> 3x3x3 -> 2x2x3 -> 12 -> 4.
  {
    name: 'average pooling',
    inputShape: [8, 8, 2],
    layers: [
      averagePooling2d({ poolSize: 2, strides: 1, inputShape: [8, 8, 2] }),
      conv2d({ filters: 3, kernelSize: 2, activation: 'relu' }),
      averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      averagePooling2d({ poolSize: 2, strides: 1 }),
      flatten(),
      dense({ units: 4, activation: 'softmax' }),
    ],
  },
  // Batch normalization of images (statistics over N·H·W rows) and of vectors
  // (over N: one row in the N=1 batch, whose variance is 0): the gradients plan
  // normalizes by the batch's statistics, evaluate by the moving ones.
  // 6x6x2 -> 4x4x3 -> 2x2x3 -> 12 -> 6 -> 4.
  {
    name: 'batch normalization',
    inputShape: [6, 6, 2],
    layers: [
      conv2d({ filters: 3, kernelSize: 3, inputShape: [6, 6, 2] }),
      batchNormalization(),
      maxPooling2d({ poolSize: 2 }),
      flatten(),
      dense({ units: 6, activation: 'relu' }),
      batchNormalization({ momentum: 0.9, epsilon: 0.01 }),
      dense({ units: 4, activation: 'softmax' }),
    ],
  },
  // The other losses, each with the last layers it fits: its activation fused
  // with the loss, logits (fromLogits), or any activation run backward by the layer.
  { name: 'categorical cross-entropy', inputShape: [6, 6], layers: mlp(dense({ units: 4, activation: 'softmax' })), loss: { kind: 'categoricalCrossentropy' } },
  { name: 'sparse cross-entropy from logits', inputShape: [6, 6], layers: mlp(dense({ units: 4 })), loss: { kind: 'sparseCategoricalCrossentropy', fromLogits: true } },
  { name: 'binary cross-entropy', inputShape: [6, 6], layers: mlp(dense({ units: 5, activation: 'sigmoid' })), loss: { kind: 'binaryCrossentropy' } },
  { name: 'binary cross-entropy from logits', inputShape: [6, 6], layers: mlp(dense({ units: 5 })), loss: { kind: 'binaryCrossentropy', fromLogits: true } },
  { name: 'mean squared error', inputShape: [6, 6], layers: mlp(dense({ units: 3 })), loss: { kind: 'meanSquaredError' } },
  { name: 'mean absolute error after a sigmoid', inputShape: [6, 6], layers: mlp(dense({ units: 3, activation: 'sigmoid' })), loss: { kind: 'meanAbsoluteError' } },
  { name: 'mean squared error after a softmax', inputShape: [6, 6], layers: mlp(dense({ units: 4, activation: 'softmax' })), loss: { kind: 'meanSquaredError' } },
  // An image out, as a convolutional autoencoder's: 6x6x1 -> 4x4x2 sigmoid.
  {
    name: 'binary cross-entropy of an image',
    inputShape: [6, 6, 1],
    layers: [conv2d({ filters: 3, kernelSize: 1, activation: 'relu', inputShape: [6, 6, 1] }), conv2d({ filters: 2, kernelSize: 3, activation: 'sigmoid' })],
    loss: { kind: 'binaryCrossentropy' },
  },
];

/** Rows of the graph's buffers; the batches below use fewer, as an epoch's last batch does. */
const MAX_BATCH = 4;
const BATCHES = [1, 3];

/** Parameters Keras starts at zero, and at one (a variance among them, which must stay positive). */
const ZEROS = ['bias', 'beta', 'moving_mean'];
const ONES = ['gamma', 'moving_variance'];

/** Glorot-uniform kernels, as the model initialises them; near those values, the parameters that start at zero or one. */
function randomParams(random: () => number, c: Case): Float64Array[] {
  return modelParamShapes(c.layers, c.inputShape).map(({ name, shape }) => {
    if (ZEROS.includes(name)) return randomArray(random, sizeOf(shape), -0.2, 0.2);
    if (ONES.includes(name)) return randomArray(random, sizeOf(shape), 0.8, 1.2);
    const fanIn = sizeOf(shape.slice(0, -1));
    const fanOut = shape[shape.length - 1] * sizeOf(shape.slice(0, -2));
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return randomArray(random, sizeOf(shape), -limit, limit);
  });
}

/** The `step`th batch a graph trains on (its step counter then reads `step`). */
function randomBatch(random: () => number, c: Case, N: number, step: number): ModelCase {
  const output = modelOutput(c);
  const classes = sizeOf(output);
  const kind = c.loss?.kind ?? 'sparseCategoricalCrossentropy';
  const y =
    kind === 'sparseCategoricalCrossentropy'
      ? { labels: Uint32Array.from({ length: N }, () => Math.floor(random() * classes)) }
      : kind === 'categoricalCrossentropy'
        ? { targets: softRows(random, N, classes) }
        : { targets: randomArray(random, N * classes, 0, 1) };
  return { layers: c.layers, inputShape: c.inputShape, params: randomParams(random, c), x: randomArray(random, N * sizeOf(c.inputShape)), ...y, loss: c.loss, N, step };
}

/** The output of one example: the last layer's. */
const modelOutput = (c: Case) => layerShapes(c.layers, c.inputShape).at(-1)!.output;

/** Rows of `C` probabilities, none of them one-hot. */
function softRows(random: () => number, N: number, C: number): Float64Array {
  const rows = randomArray(random, N * C, 0.1, 1);
  for (let i = 0; i < N; i++) {
    const sum = rows.subarray(i * C, (i + 1) * C).reduce((a, b) => a + b, 0);
    for (let j = i * C; j < (i + 1) * C; j++) rows[j] = Math.fround(rows[j] / sum);
  }
  return rows;
}

/** A graph whose parameters are laid out as the reference expects them. */
async function buildGraph(c: Case): Promise<Graph> {
  const { device } = await testGpu();
  const metrics = c.loss ? [] : (['accuracy'] as const);
  const graph = new Graph(device, { layers: c.layers, inputShape: c.inputShape, maxBatchSize: MAX_BATCH, optimizer: optimizerConfig('sgd'), loss: c.loss, metrics, random: seededRandom(1) });
  expect(graph.params.map((p) => ({ layer: p.layer, name: p.spec.name, shape: p.spec.shape }))).toEqual(modelParamShapes(c.layers, c.inputShape));
  return graph;
}

function writeCase(graph: Graph, m: ModelCase): void {
  const arena = new Float32Array(graph.arenaLength);
  graph.params.forEach((p, i) => arena.set(m.params[i], p.start));
  graph.writeArena(arena);
  graph.writeBatch(Float32Array.from(m.x), m.labels ?? m.targets);
}

const paramName = (c: Case, layer: number, name: string, shape: readonly number[]) =>
  `layer ${layer} ${c.layers[layer].type} ${name} [${shape.join(', ')}]`;

describe.each(cases.map((c) => [c.name, c] as const))('model %s', (name, c) => {
  const random = seededRandom([...name].reduce((h, ch) => h * 31 + ch.charCodeAt(0), 7));
  const batches = BATCHES.map((N, i) => randomBatch(random, c, N, i + 1));
  const shapes = modelParamShapes(c.layers, c.inputShape);

  test('reference gradients match central differences of the reference loss', () => {
    for (const m of batches) {
      const { dParams } = modelGradients(m);
      // Every parameter, as one vector, through the float64 loss.
      const flat = Float64Array.from(m.params.flatMap((p) => Array.from(p)));
      const loss = (values: Float64Array) => {
        let at = 0;
        const params = m.params.map((p) => values.subarray(at, (at += p.length)));
        return [modelLoss({ ...m, params })];
      };
      const numeric = numericGradient(loss, flat, [1]);
      let at = 0;
      shapes.forEach((p, i) => {
        const want = numeric.subarray(at, (at += dParams[i].length));
        expectClose(`${name} N=${m.N} reference d/d ${paramName(c, p.layer, p.name, p.shape)}`, dParams[i], want, GRADCHECK);
      });
    }
  });

  test('GPU gradients match the reference, batch after batch', async () => {
    const { device } = await testGpu();
    const graph = await buildGraph(c);
    try {
      // Each batch runs on the gradients the one before left, which must not leak into its own.
      for (const m of batches) {
        writeCase(graph, m);
        await runDispatches(device, (await graph.plan(m.N)).gradients);
        const got = (await readTensor(device, graph.gradArena)) as Float32Array;
        const { dParams } = modelGradients(m);
        graph.params.forEach((p, i) => {
          const label = `${name} N=${m.N} GPU d/d ${paramName(c, p.layer, p.spec.name, p.spec.shape)}`;
          expectClose(label, got.subarray(p.start, p.start + sizeOf(p.spec.shape)), dParams[i], F32);
        });
      }
    } finally {
      graph.destroy();
    }
  });

  test(`GPU loss${c.loss ? ' matches' : ' and accuracy match'} the reference`, async () => {
    const { device } = await testGpu();
    const graph = await buildGraph(c);
    try {
      for (const m of batches) {
        writeCase(graph, m);
        writeTensor(device, graph.sums, new Float32Array(graph.sums.shape[0]));
        await runDispatches(device, (await graph.plan(m.N)).evaluate);
        const [lossSum, correct] = await readTensor(device, graph.sums);
        // Evaluate runs the inference forward: no step, so dropout is the identity.
        const { loss, logits } = modelGradients({ ...m, step: undefined });
        expectClose(`${name} N=${m.N} GPU mean loss`, [lossSum / m.N], [loss], F32);
        if (m.labels && !c.loss) expect(correct, `${name} N=${m.N} correct`).toBe(countCorrect(logits, m.labels, m.N, logits.length / m.N));
      }
    } finally {
      graph.destroy();
    }
  });
});
