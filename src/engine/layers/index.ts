// The layer registry: every layer kind by its `type`. The only place that looks a type up.
import { formatShape } from '../buffers';
import { printable } from '../safetensors';
import { averagePooling2dLayer, type AveragePooling2DConfig } from './averagePooling2d';
import { batchNormalizationLayer, type BatchNormalizationConfig } from './batchNormalization';
import { conv2dLayer, type Conv2DConfig } from './conv2d';
import { denseLayer, type DenseConfig } from './dense';
import { dropoutLayer, type DropoutConfig } from './dropout';
import { flattenLayer, type FlattenConfig } from './flatten';
import type { KerasConfig, LayerConfigBase, LayerKind, LayerShape } from './layer';
import { maxPooling2dLayer, type MaxPooling2DConfig } from './maxPooling2d';

export type LayerConfig =
  | AveragePooling2DConfig
  | BatchNormalizationConfig
  | Conv2DConfig
  | DenseConfig
  | DropoutConfig
  | FlattenConfig
  | MaxPooling2DConfig;

const KINDS: { [T in LayerConfig['type']]: LayerKind<Extract<LayerConfig, { type: T }>> } = {
  averagePooling2d: averagePooling2dLayer,
  batchNormalization: batchNormalizationLayer,
  conv2d: conv2dLayer,
  dense: denseLayer,
  dropout: dropoutLayer,
  flatten: flattenLayer,
  maxPooling2d: maxPooling2dLayer,
};

/** The name errors and labels give layer `index`. */
export const layerName = (layer: LayerConfigBase, index: number) => `layer ${index} (${printable(String(layer.type), 40)})`;

/** The kind of a layer config; an unknown `type` is an error naming the layer. */
export function layerKind(layer: LayerConfigBase, index: number): LayerKind<LayerConfig> {
  if (!Object.hasOwn(KINDS, layer.type)) {
    throw new Error(`${layerName(layer, index)}: unknown layer type '${printable(String(layer.type), 40)}' (known: ${Object.keys(KINDS).join(', ')})`);
  }
  return KINDS[layer.type as LayerConfig['type']] as LayerKind<LayerConfig>;
}

/** Each Keras class some kind reads (its `keras.read`), by class name. */
const KERAS_READERS = new Map(
  Object.values(KINDS).flatMap((kind) => Object.entries((kind as LayerKind<LayerConfig>).keras.read)),
);

/** Our config for a Keras layer of class `className`, or undefined when no kind reads that class. */
export function kerasReader(className: string): ((config: KerasConfig, input: readonly number[]) => LayerConfig) | undefined {
  return KERAS_READERS.get(className);
}

/** The Keras classes that some kind reads, for errors. */
export const kerasClasses = (): string[] => [...KERAS_READERS.keys()].sort();

/** Each layer's output shape and parameters, checked in turn from the input shape. */
export function layerShapes(layers: readonly LayerConfig[], inputShape: readonly number[]): LayerShape[] {
  if (inputShape.some((d) => !Number.isInteger(d) || d <= 0)) throw new Error(`inputShape ${formatShape(inputShape)} must be positive integers`);
  const shapes: LayerShape[] = [];
  let shape = [...inputShape];
  layers.forEach((layer, i) => {
    shapes.push(layerKind(layer, i).shape(layer, shape, layerName(layer, i)));
    shape = shapes[i].output;
  });
  return shapes;
}

export { averagePooling2d, type AveragePooling2DConfig } from './averagePooling2d';
export { batchNormalization, type BatchNormalizationConfig } from './batchNormalization';
export { conv2d, type Conv2DConfig } from './conv2d';
export { dense, type DenseConfig } from './dense';
export { dropout, type DropoutConfig } from './dropout';
export { flatten, type FlattenConfig } from './flatten';
export { maxPooling2d, type MaxPooling2DConfig } from './maxPooling2d';
export type { ActivationName } from './product';
export type { KerasConfig, LayerShape, ParamSpec } from './layer';
