// Float64 CPU reference for rescaling.wgsl: y = x · scale + offset and
// dInput = scale · dOut; and the rescaling layer.
import type { RescalingConfig } from '../engine/layers';
import type { LayerReference } from './layers';

export function rescalingForward(x: ArrayLike<number>, scale: number, offset: number): Float64Array {
  return Float64Array.from(x, (v) => v * scale + offset);
}

export function rescalingBackward(dOut: ArrayLike<number>, scale: number): Float64Array {
  return Float64Array.from(dOut, (d) => scale * d);
}

export const rescalingLayer: LayerReference<RescalingConfig> = {
  shape: (_config, input) => ({ output: [...input], params: [] }),
  forward: (config, x) => ({
    y: rescalingForward(x, config.scale, config.offset),
    backward: (dY) => ({ dX: rescalingBackward(dY, config.scale), dParams: [] }),
  }),
};
