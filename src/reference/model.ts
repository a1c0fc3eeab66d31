// Float64 CPU reference for a whole sequential model trained with one of the
// losses (sparse categorical cross-entropy by default): the mean loss over a
// batch and the gradient of every parameter. It only walks layers: each kind's
// reference is looked up in layers.ts, each loss' in its op's reference.
//
// Shapes leave out the batch dimension, as layers.ts does: an image is [H, W, C]
// (height, width, channels), a vector [features]; a batch of N is row-major with
// N first. Parameters come in the order and layout of Model.getWeights(): layer
// by layer, each layer's in the order its kind lists them.
import type { LayerConfig } from '../engine/layers';
import type { LossConfig, LossKind } from '../engine/losses';
import { layerReference, type LayerForward } from './layers';
import { meanErrorBackward, meanErrorLosses } from './meanError';
import { sigmoidCrossEntropyBackward, sigmoidCrossEntropyLosses } from './sigmoidCrossEntropy';
import { categoricalBackward, categoricalLosses, softmaxCrossEntropyBackward, softmaxCrossEntropyLosses } from './softmaxCrossEntropy';

/** A parameter of the model, where Model.getWeights() names it `layers.<layer>.<name>`. */
export interface ParamShape {
  layer: number;
  name: string;
  shape: number[];
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Each layer's input and output shapes, from the references' own shape rules, and every parameter. */
function plan(layers: readonly LayerConfig[], inputShape: readonly number[]): { shapes: number[][]; params: ParamShape[] } {
  const shapes = [[...inputShape]];
  const params: ParamShape[] = [];
  layers.forEach((layer, i) => {
    const input = shapes[i];
    try {
      const { output, params: own } = layerReference(layer).shape(layer, input);
      shapes.push(output);
      params.push(...own.map((p) => ({ layer: i, ...p })));
    } catch (error) {
      throw new Error(`reference model: layer ${i} (${layer.type}) ${(error as Error).message}, input shape [${input.join(', ')}]`);
    }
  });
  return { shapes, params };
}

/** The model's parameters, in Model.getWeights() order. */
export function modelParamShapes(layers: readonly LayerConfig[], inputShape: readonly number[]): ParamShape[] {
  return plan(layers, inputShape).params;
}

export interface ModelCase {
  layers: readonly LayerConfig[];
  inputShape: readonly number[];
  /** One array per parameter, in modelParamShapes() order. */
  params: readonly ArrayLike<number>[];
  /** [N, ...inputShape], row-major. */
  x: ArrayLike<number>;
  /** [N] class indices, for the sparse cross-entropy. */
  labels?: ArrayLike<number>;
  /** [N, ...output], for the other losses. */
  targets?: ArrayLike<number>;
  /** sparseCategoricalCrossentropy by default. */
  loss?: LossConfig;
  N: number;
  /** The training step (1 on a graph's first), as the gradients plan runs it; absent, the model runs as in inference. */
  step?: number;
}

/** The activation each cross-entropy takes over from the last layer (fused with it), unless from logits. */
const FUSED: Partial<Record<LossKind, string>> = { sparseCategoricalCrossentropy: 'softmax', categoricalCrossentropy: 'softmax', binaryCrossentropy: 'sigmoid' };

/** Each row's loss and the gradient of the batch's mean with respect to what the loss takes ([N, R] values). */
function lossOf(m: ModelCase, input: ArrayLike<number>, R: number): { losses: Float64Array; backward: () => Float64Array } {
  const { kind = 'sparseCategoricalCrossentropy', fromLogits = false } = m.loss ?? {};
  const clipped = !fromLogits;
  const { N } = m;
  const need = <T>(y: T | undefined, what: string): T => y ?? (() => { throw new Error(`reference model: ${kind} needs ${what}`); })();
  switch (kind) {
    case 'sparseCategoricalCrossentropy': {
      const labels = need(m.labels, 'labels');
      return { losses: softmaxCrossEntropyLosses(input, labels, N, R, clipped), backward: () => softmaxCrossEntropyBackward(input, labels, N, R) };
    }
    case 'categoricalCrossentropy': {
      const t = need(m.targets, 'targets');
      return { losses: categoricalLosses(input, t, N, R, clipped), backward: () => categoricalBackward(input, t, N, R, clipped) };
    }
    case 'binaryCrossentropy': {
      const t = need(m.targets, 'targets');
      return { losses: sigmoidCrossEntropyLosses(input, t, N, R, clipped), backward: () => sigmoidCrossEntropyBackward(input, t, N, R, clipped) };
    }
    default: {
      const t = need(m.targets, 'targets');
      const error = kind === 'meanSquaredError' ? 'squared' : 'absolute';
      return { losses: meanErrorLosses(error, input, t, N, R), backward: () => meanErrorBackward(error, input, t, N, R) };
    }
  }
}

function forward(m: ModelCase): { layers: LayerForward[]; logits: ArrayLike<number>; loss: number; classes: number; lossBackward: () => Float64Array } {
  const { shapes, params } = plan(m.layers, m.inputShape);
  if (m.params.length !== params.length) throw new Error(`reference model: ${m.params.length} parameter arrays given, ${params.length} expected`);
  params.forEach((p, i) => {
    if (m.params[i].length !== size(p.shape)) {
      throw new Error(`reference model: layer ${p.layer} ${p.name} has ${m.params[i].length} values, [${p.shape.join(', ')}] expected`);
    }
  });
  if (m.x.length !== m.N * size(m.inputShape)) throw new Error(`reference model: x has ${m.x.length} values for ${m.N} inputs`);
  const layers: LayerForward[] = [];
  let x: ArrayLike<number> = m.x;
  const fused = m.loss?.fromLogits ? undefined : FUSED[m.loss?.kind ?? 'sparseCategoricalCrossentropy'];
  const lastLayer = m.layers[m.layers.length - 1];
  if (fused && (!('activation' in lastLayer) || lastLayer.activation !== fused)) throw new Error(`reference model: the last layer must end in a ${fused} for this loss`);
  m.layers.forEach((config, i) => {
    const own = m.params.filter((_, j) => params[j].layer === i);
    const activationInLoss = i === m.layers.length - 1 && fused !== undefined;
    const pass = { N: m.N, input: shapes[i], output: shapes[i + 1], activationInLoss, step: m.step };
    layers.push(layerReference(config).forward(config, x, own, pass));
    x = layers[i].y;
  });
  const last = layers[layers.length - 1];
  const logits = fused ? last.logits! : last.y;
  const classes = size(shapes[shapes.length - 1]);
  const { losses, backward } = lossOf(m, logits, classes);
  return { layers, logits, classes, loss: losses.reduce((a, b) => a + b, 0) / m.N, lossBackward: backward };
}

/** The mean (clipped) loss over the batch. */
export function modelLoss(m: ModelCase): number {
  return forward(m).loss;
}

/**
 * The mean loss, what the loss took ([N, ...output]: the logits when it
 * applies the last layer's activation, else the outputs), and d(mean
 * loss)/d(parameter) for every parameter.
 */
export function modelGradients(m: ModelCase): { loss: number; logits: ArrayLike<number>; dParams: Float64Array[] } {
  const { layers, logits, loss, lossBackward } = forward(m);
  // Layer by layer from the last, whose dY is the gradient of what the loss took.
  const perLayer: Float64Array[][] = [];
  let dY: ArrayLike<number> = lossBackward();
  for (let i = layers.length - 1; i >= 0; i--) {
    const { dX, dParams } = layers[i].backward(dY);
    perLayer[i] = dParams;
    dY = dX;
  }
  return { loss, logits, dParams: perLayer.flat() };
}
