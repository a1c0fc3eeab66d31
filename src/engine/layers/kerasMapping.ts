// The helpers the layer modules' `keras` mappings share (the types are in
// layer.ts); src/engine/keras/ reads and writes whole models with them. A
// field is only converted here: the kind's own `shape` then checks it.
import { isObject, quoteJson } from '../safetensors';
import type { KerasConfig } from './layer';
import type { ActivationName } from './product';

/** Keras' activations by the names its files give them, as ours. */
const ACTIVATIONS: Record<string, ActivationName> = {
  linear: 'linear',
  relu: 'relu',
  sigmoid: 'sigmoid',
  softmax: 'softmax',
  // TensorFlow 2's tf.nn.softmax, as tf.keras 2 names it.
  softmax_v2: 'softmax',
  tanh: 'tanh',
};

/** Keras' `3` or `[3, 3]` as our [height, width]. */
export const kerasPair = (value: unknown): [number, number] => (typeof value === 'number' ? [value, value] : (value as [number, number]));

/** Two values that are the same, or lists of the same values (what `allowed` holds). */
const same = (a: unknown, b: unknown) => a === b || (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => v === b[i]));

/** Refuses a field whose value is none of `allowed` (absent passes: Keras' default is allowed), saying what it is. */
export function expectKeras(config: KerasConfig, field: string, allowed: readonly unknown[]): void {
  const value = config[field];
  if (value === undefined || allowed.some((a) => same(a, value))) return;
  throw new Error(`${field} ${quoteJson(value)} is not supported (only ${allowed.map(quoteJson).join(' or ')})`);
}

/** The images Keras lays out as ours: channels_last (null is Keras' default, which is channels_last unless its own settings say otherwise). */
export const expectChannelsLast = (config: KerasConfig) => expectKeras(config, 'data_format', ['channels_last', null]);

/**
 * A layer's `activation`: a name, or (Keras 3, for a function it does not
 * know by name) `{"class_name": "function", "config": "relu", ...}`.
 */
export function kerasActivation(config: KerasConfig): ActivationName {
  const value = config.activation ?? 'linear';
  const name = isObject(value) && value.class_name === 'function' ? value.config : value;
  if (typeof name === 'string' && Object.hasOwn(ACTIVATIONS, name)) return ACTIVATIONS[name];
  throw new Error(`activation ${quoteJson(value)} is not supported (only ${Object.keys(ACTIVATIONS).join(', ')})`);
}

/** An initializer as Keras 3 serializes it (`GlorotUniform`, `Zeros`, `Ones`). */
export const kerasInitializer = (className: string): KerasConfig => ({
  module: 'keras.initializers',
  class_name: className,
  config: className === 'GlorotUniform' ? { seed: null } : {},
  registered_name: null,
});
