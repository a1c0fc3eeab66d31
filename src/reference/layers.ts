// The float64 reference of every layer kind, by `type`: the one place the
// reference model looks a kind up. Each kind's entry lives next to its op's reference.
//
// Shapes leave out the batch dimension, as src/engine/layers does: an image is
// [H, W, C] (height, width, channels), a vector [features]; a batch of N is
// row-major with N first.
import type { FlattenConfig, LayerConfig } from '../engine/layers';
import { averagePooling2dLayer } from './avgpool2d';
import { batchNormalizationLayer } from './batchnorm';
import { conv2dLayer } from './conv2d';
import { dropoutLayer } from './dropout';
import { denseLayer } from './dense';
import { maxPooling2dLayer } from './maxpool2d';

/** A parameter of a layer, as its ParamSpec names and shapes it. */
export interface LayerParam {
  name: string;
  shape: number[];
}

/** What a layer is told about the batch it runs on. */
export interface Pass {
  N: number;
  input: readonly number[];
  output: readonly number[];
  /**
   * The model's last layer, whose softmax or sigmoid the loss applies itself:
   * forward returns its logits and backward is given their gradient as dY.
   */
  activationInLoss: boolean;
  /**
   * In training, the step (1 on a graph's first) that dropout draws its masks
   * for; absent in inference (dropout off, batch normalization by its moving statistics).
   */
  step?: number;
}

/** One layer run forward on one batch, holding what its backward needs. */
export interface LayerForward {
  y: ArrayLike<number>;
  /** With activationInLoss: the values before the activation, that the loss takes. */
  logits?: Float64Array;
  /** dX, and the gradient of each parameter in the order `shape` lists them, from dY. */
  backward(dY: ArrayLike<number>): { dX: ArrayLike<number>; dParams: Float64Array[] };
}

export interface LayerReference<C> {
  /** The output shape and the parameters; throws with the reason when the input does not fit. */
  shape(config: C, input: readonly number[]): { output: number[]; params: LayerParam[] };
  forward(config: C, x: ArrayLike<number>, params: readonly ArrayLike<number>[], pass: Pass): LayerForward;
}

/** Flatten is a view: its output is its input, and so is its gradient. */
const flattenLayer: LayerReference<FlattenConfig> = {
  shape: (_config, input) => ({ output: [input.reduce((a, b) => a * b, 1)], params: [] }),
  forward: (_config, x) => ({ y: x, backward: (dY) => ({ dX: dY, dParams: [] }) }),
};

const REFERENCES: { [T in LayerConfig['type']]: LayerReference<Extract<LayerConfig, { type: T }>> } = {
  averagePooling2d: averagePooling2dLayer,
  batchNormalization: batchNormalizationLayer,
  conv2d: conv2dLayer,
  dense: denseLayer,
  dropout: dropoutLayer,
  flatten: flattenLayer,
  maxPooling2d: maxPooling2dLayer,
};

export function layerReference(config: LayerConfig): LayerReference<LayerConfig> {
  if (!Object.hasOwn(REFERENCES, config.type)) throw new Error(`reference model: no reference for layer type '${config.type}'`);
  return REFERENCES[config.type] as LayerReference<LayerConfig>;
}
