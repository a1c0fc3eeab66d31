// Layer descriptions, Keras style: plain JSON objects (so a model's architecture
// saves as JSON), the factories that make them, and their shape rules.
//
// Shapes leave out the batch dimension: an image is [H, W, C] (height, width,
// channels), a vector [features].
import { formatShape, sizeOf } from './buffers';
import { conv2dShape, type Padding } from './ops/conv2d';
import { maxPool2dShape } from './ops/maxpool2d';

export type ActivationName = 'relu' | 'sigmoid' | 'tanh' | 'softmax' | 'linear';

export interface Conv2DConfig {
  type: 'conv2d';
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  padding: Padding;
  activation: ActivationName;
  inputShape?: number[];
}

export interface MaxPooling2DConfig {
  type: 'maxPooling2d';
  poolSize: [number, number];
  strides: [number, number];
  inputShape?: number[];
}

export interface FlattenConfig {
  type: 'flatten';
  inputShape?: number[];
}

export interface DenseConfig {
  type: 'dense';
  units: number;
  activation: ActivationName;
  inputShape?: number[];
}

export type LayerConfig = Conv2DConfig | MaxPooling2DConfig | FlattenConfig | DenseConfig;

type Pair = number | [number, number];
const pair = (value: Pair): [number, number] => (typeof value === 'number' ? [value, value] : [value[0], value[1]]);

export function conv2d(options: {
  filters: number;
  kernelSize: Pair;
  strides?: Pair;
  padding?: Padding;
  activation?: ActivationName;
  inputShape?: number[];
}): Conv2DConfig {
  return {
    type: 'conv2d',
    filters: options.filters,
    kernelSize: pair(options.kernelSize),
    strides: pair(options.strides ?? 1),
    padding: options.padding ?? 'valid',
    activation: options.activation ?? 'linear',
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

/** Keras' MaxPooling2D: strides default to the pool size, padding is 'valid'. */
export function maxPooling2d(options: { poolSize?: Pair; strides?: Pair; inputShape?: number[] } = {}): MaxPooling2DConfig {
  const poolSize = pair(options.poolSize ?? 2);
  return {
    type: 'maxPooling2d',
    poolSize,
    strides: pair(options.strides ?? poolSize),
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export function flatten(options: { inputShape?: number[] } = {}): FlattenConfig {
  return { type: 'flatten', ...(options.inputShape && { inputShape: options.inputShape }) };
}

export function dense(options: { units: number; activation?: ActivationName; inputShape?: number[] }): DenseConfig {
  return {
    type: 'dense',
    units: options.units,
    activation: options.activation ?? 'linear',
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

/** A parameter of a layer: its name in saved files and its shape. */
export interface ParamSpec {
  name: 'kernel' | 'bias';
  shape: number[];
  /** For glorot-uniform initialisation; zero for biases. */
  fanIn: number;
  fanOut: number;
}

const positive = (layer: string, what: string, values: number[]) => {
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new Error(`${layer}: ${what} must be positive integers, got ${values.join(', ')}`);
  }
};

/** Runs an op's shape check, naming the layer in its error. */
function withLayerName<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
}

const ACTIVATIONS: readonly string[] = ['relu', 'sigmoid', 'tanh', 'softmax', 'linear'];

/** Checks a layer against its input shape and returns its output shape and parameters. */
export function layerShape(layer: LayerConfig, input: readonly number[], index: number): { output: number[]; params: ParamSpec[] } {
  const name = `layer ${index} (${layer.type})`;
  if ('activation' in layer && !ACTIVATIONS.includes(layer.activation)) {
    throw new Error(`${name}: unknown activation '${layer.activation}' (use ${ACTIVATIONS.join(', ')})`);
  }
  switch (layer.type) {
    case 'conv2d': {
      if (input.length !== 3) throw new Error(`${name}: expects an [height, width, channels] input, got ${formatShape(input)}`);
      positive(name, 'filters', [layer.filters]);
      positive(name, 'kernelSize', layer.kernelSize);
      const [, , C] = input;
      const [KH, KW] = layer.kernelSize;
      const out = withLayerName(name, () =>
        conv2dShape([1, ...input], [KH, KW, C, layer.filters], { strides: layer.strides, padding: layer.padding }),
      );
      return {
        output: out.slice(1),
        params: [
          { name: 'kernel', shape: [KH, KW, C, layer.filters], fanIn: KH * KW * C, fanOut: KH * KW * layer.filters },
          { name: 'bias', shape: [layer.filters], fanIn: 0, fanOut: 0 },
        ],
      };
    }
    case 'maxPooling2d': {
      if (input.length !== 3) throw new Error(`${name}: expects an [height, width, channels] input, got ${formatShape(input)}`);
      const out = withLayerName(name, () => maxPool2dShape([1, ...input], { poolSize: layer.poolSize, strides: layer.strides }));
      return { output: out.slice(1), params: [] };
    }
    case 'flatten':
      return { output: [sizeOf(input)], params: [] };
    case 'dense': {
      if (input.length !== 1) throw new Error(`${name}: expects a flat input, got ${formatShape(input)}; add a flatten() layer before it`);
      positive(name, 'units', [layer.units]);
      return {
        output: [layer.units],
        params: [
          { name: 'kernel', shape: [input[0], layer.units], fanIn: input[0], fanOut: layer.units },
          { name: 'bias', shape: [layer.units], fanIn: 0, fanOut: 0 },
        ],
      };
    }
    default:
      throw new Error(`${name}: unknown layer type '${(layer as { type: string }).type}'`);
  }
}
