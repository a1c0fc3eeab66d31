// Float64 CPU reference for a whole sequential model trained with sparse
// categorical cross-entropy: the mean loss over a batch and the gradient of every
// parameter. It only walks layers: each kind's reference is looked up in layers.ts.
//
// Shapes leave out the batch dimension, as layers.ts does: an image is [H, W, C]
// (height, width, channels), a vector [features]; a batch of N is row-major with
// N first. Parameters come in the order and layout of Model.getWeights(): layer
// by layer, each layer's in the order its kind lists them.
import type { LayerConfig } from '../engine/layers';
import { layerReference, type LayerForward } from './layers';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from './softmaxCrossEntropy';

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
  /** [N] class indices. */
  labels: ArrayLike<number>;
  N: number;
  /** The training step (1 on a graph's first), as the gradients plan runs it; absent, the model runs as in inference. */
  step?: number;
}

function forward(m: ModelCase): { layers: LayerForward[]; logits: Float64Array; loss: number; classes: number } {
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
  m.layers.forEach((config, i) => {
    const own = m.params.filter((_, j) => params[j].layer === i);
    const last = i === m.layers.length - 1;
    const pass = { N: m.N, input: shapes[i], output: shapes[i + 1], last, step: m.step };
    layers.push(layerReference(config).forward(config, x, own, pass));
    x = layers[i].y;
  });
  const { logits } = layers[layers.length - 1];
  const output = shapes[shapes.length - 1];
  if (!logits || output.length !== 1) {
    throw new Error('reference model: the last layer must be dense with a softmax activation (its logits are [N, classes])');
  }
  const classes = output[0];
  return { layers, logits, classes, loss: softmaxCrossEntropyForward(logits, m.labels, m.N, classes) / m.N };
}

/** The mean (clipped) loss over the batch. */
export function modelLoss(m: ModelCase): number {
  return forward(m).loss;
}

/** The mean loss, the logits [N, classes], and d(mean loss)/d(parameter) for every parameter. */
export function modelGradients(m: ModelCase): { loss: number; logits: Float64Array; dParams: Float64Array[] } {
  const { layers, logits, loss, classes } = forward(m);
  // Layer by layer from the last, whose dY is the gradient of its logits.
  const perLayer: Float64Array[][] = [];
  let dY: ArrayLike<number> = softmaxCrossEntropyBackward(logits, m.labels, m.N, classes);
  for (let i = layers.length - 1; i >= 0; i--) {
    const { dX, dParams } = layers[i].backward(dY);
    perLayer[i] = dParams;
    dY = dX;
  }
  return { loss, logits, dParams: perLayer.flat() };
}
