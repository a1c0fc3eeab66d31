// Reshape: the input seen in another shape of as many values (Keras' Reshape,
// one size may be -1 for what is left), as a view with no copy, and so is its
// gradient. MNIST models use it to give a [28, 28] input its channel.
import { formatShape, reshape as view, sizeOf } from '../buffers';
import { quoteJson } from '../safetensors';
import type { LayerConfigBase, LayerKind } from './layer';

export interface ReshapeConfig extends LayerConfigBase {
  type: 'reshape';
  /** The output shape; one size may be -1, the size that the others leave. */
  targetShape: number[];
}

export function reshape(options: { targetShape: number[]; inputShape?: number[] }): ReshapeConfig {
  // A target that is no list (a Keras config without target_shape) is kept as given, for outputShape to name.
  const targetShape = Array.isArray(options.targetShape) ? [...options.targetShape] : options.targetShape;
  return { type: 'reshape', targetShape, ...(options.inputShape && { inputShape: options.inputShape }) };
}

/** The target shape with its -1 worked out, checked against the input's size. */
function outputShape(target: unknown, input: readonly number[], name: string): number[] {
  const fail = (why: string): never => {
    throw new Error(`${name}: targetShape ${quoteJson(target)} ${why}`);
  };
  if (!Array.isArray(target) || target.length === 0) return fail('must be a list of sizes');
  if (!target.every((d) => d === -1 || (Number.isSafeInteger(d) && d > 0))) fail('must hold positive integers, and -1 for one size');
  const open = target.filter((d) => d === -1).length;
  if (open > 1) fail('may leave one size open (-1), not several');
  const known = sizeOf(target.filter((d) => d !== -1));
  const size = sizeOf(input);
  const resolved = target.map((d) => (d === -1 ? size / known : d));
  if (sizeOf(resolved) !== size || !resolved.every(Number.isInteger)) fail(`does not hold the ${size} values of the ${formatShape(input)} input`);
  return resolved;
}

export const reshapeLayer: LayerKind<ReshapeConfig> = {
  shape: (config, input, name) => ({ output: outputShape(config.targetShape, input, name), params: [] }),

  build(_config, { x, dX, maxBatchSize, output, needsOutputGradient }) {
    return {
      y: view(x, [maxBatchSize, ...output]),
      dY: needsOutputGradient && dX ? view(dX, [maxBatchSize, ...output]) : null,
      forward: async () => [],
      backward: async () => [],
    };
  },

  // python/model.py reshapes in our layout (an image's channels last), so the
  // output is in ours, and an image back in PyTorch's; a flat input must be in
  // ours already, not a flatten of an image, whose values PyTorch orders (c, h, w).
  torch(_config, _input, _shape, order, at) {
    if (order) throw new Error(`${at.name}: cannot export to PyTorch: it reshapes the flatten of an image, whose values PyTorch orders (c, h, w) where webgpu-train orders them (h, w, c)`);
    return { params: [], order: null };
  },

  keras: {
    read: {
      Reshape: (config) => reshape({ targetShape: config.target_shape as number[] }),
    },
    write: (config) => ({ className: 'Reshape', config: { target_shape: config.targetShape } }),
  },
};
