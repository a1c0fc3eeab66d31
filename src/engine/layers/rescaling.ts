// Rescaling: y = x · scale + offset, Keras' Rescaling layer; how many models
// take raw 0..255 pixels (scale 1/255), or pixels in [-1, 1] (1/127.5, -1).
import { rows } from '../buffers';
import { rescalingBackward, rescalingCheck, rescalingForward } from '../ops/rescaling';
import { quoteJson } from '../safetensors';
import { withLayerName, type LayerConfigBase, type LayerKind } from './layer';
import { keepsOrder } from './torchMapping';

export interface RescalingConfig extends LayerConfigBase {
  type: 'rescaling';
  scale: number;
  offset: number;
}

export function rescaling(options: { scale: number; offset?: number; inputShape?: number[] }): RescalingConfig {
  return { type: 'rescaling', scale: options.scale, offset: options.offset ?? 0, ...(options.inputShape && { inputShape: options.inputShape }) };
}

/** Keras' scale or offset: a number (Keras 3 may write an array, one per channel, which is refused). */
function kerasNumber(field: string, value: unknown): number {
  if (typeof value !== 'number') throw new Error(`${field} ${quoteJson(value)} is not supported (only a number)`);
  return value;
}

export const rescalingLayer: LayerKind<RescalingConfig> = {
  shape(config, input, name) {
    withLayerName(name, () => rescalingCheck(config));
    return { output: [...input], params: [] };
  },

  build(config, context) {
    const { device, x, dX, output } = context;
    const y = context.tensor('y', output);
    const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
    return {
      y,
      dY,
      forward: async (batchSize) => [await rescalingForward(device, { x: rows(x, batchSize), y: rows(y, batchSize) }, config)],
      backward: async (batchSize) => (dX && dY ? [await rescalingBackward(device, { dOut: rows(dY, batchSize), dInput: rows(dX, batchSize) }, config)] : []),
    };
  },

  torch: keepsOrder,

  keras: {
    read: {
      Rescaling: (config) => rescaling({ scale: kerasNumber('scale', config.scale), offset: kerasNumber('offset', config.offset ?? 0) }),
    },
    write: (config) => ({ className: 'Rescaling', config: { scale: config.scale, offset: config.offset } }),
  },
};
