// Float64 CPU reference for maxpool2d.wgsl: max pooling over x [N, H, W, C]
// (N images, H x W pixels, C channels) with a PH x PW window, strides SY, SX and
// 'valid' or 'same' padding, where a window's maximum is over its in-image
// elements (TensorFlow's max_pool, which pads with -inf);
// and the maxPooling2d and globalMaxPooling2d layers.
import type { GlobalMaxPooling2DConfig, MaxPooling2DConfig } from '../engine/layers';
import type { LayerReference } from './layers';

export interface PoolShape {
  N: number;
  H: number;
  W: number;
  C: number;
  PH: number;
  PW: number;
  SY: number;
  SX: number;
  /** 'valid' when absent. */
  padding?: 'valid' | 'same';
}

/** Output size and padding before the first pixel along one dimension, by TensorFlow's rules. */
export function poolAlong(size: number, pool: number, stride: number, padding: 'valid' | 'same' = 'valid'): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.floor((size - pool) / stride) + 1, before: 0 };
  const out = Math.ceil(size / stride);
  return { out, before: Math.floor(Math.max((out - 1) * stride + pool - size, 0) / 2) };
}

export function outputSize({ H, W, PH, PW, SY, SX, padding }: PoolShape): [number, number] {
  return [poolAlong(H, PH, SY, padding).out, poolAlong(W, PW, SX, padding).out];
}

/** y and the flat index into x of each maximum; ties go to the first in row-major window order. */
export function maxPool2dForward(x: ArrayLike<number>, s: PoolShape): { y: Float64Array; argmax: Uint32Array } {
  const rows = poolAlong(s.H, s.PH, s.SY, s.padding);
  const cols = poolAlong(s.W, s.PW, s.SX, s.padding);
  const y = new Float64Array(s.N * rows.out * cols.out * s.C);
  const argmax = new Uint32Array(y.length);
  let o = 0;
  for (let n = 0; n < s.N; n++) {
    for (let oy = 0; oy < rows.out; oy++) {
      for (let ox = 0; ox < cols.out; ox++) {
        for (let c = 0; c < s.C; c++, o++) {
          let best = -Infinity;
          for (let ky = 0; ky < s.PH; ky++) {
            for (let kx = 0; kx < s.PW; kx++) {
              const h = oy * s.SY + ky - rows.before;
              const w = ox * s.SX + kx - cols.before;
              // The padding holds -inf: never the maximum.
              if (h < 0 || h >= s.H || w < 0 || w >= s.W) continue;
              const i = ((n * s.H + h) * s.W + w) * s.C + c;
              // A NaN wins, the first one (maxpool2d.wgsl's NaN rule).
              if (!Number.isNaN(best) && (x[i] > best || Number.isNaN(x[i]))) {
                best = x[i];
                argmax[o] = i;
              }
            }
          }
          y[o] = best;
        }
      }
    }
  }
  return { y, argmax };
}

/** Scatters each dOut to the element its window's maximum came from (the GPU gathers instead). */
export function maxPool2dBackward(argmax: ArrayLike<number>, dOut: ArrayLike<number>, s: PoolShape): Float64Array {
  const dInput = new Float64Array(s.N * s.H * s.W * s.C);
  for (let o = 0; o < dOut.length; o++) dInput[argmax[o]] += dOut[o];
  return dInput;
}

/** The layer's pooling for N images of the input shape [H, W, C]. */
function layerPool(config: MaxPooling2DConfig, [H, W, C]: readonly number[], N: number): PoolShape {
  return { N, H, W, C, PH: config.poolSize[0], PW: config.poolSize[1], SY: config.strides[0], SX: config.strides[1], padding: config.padding ?? 'valid' };
}

export const maxPooling2dLayer: LayerReference<MaxPooling2DConfig> = {
  shape(config, input) {
    if (input.length !== 3) throw new Error('needs an [H, W, C] input');
    const [OH, OW] = outputSize(layerPool(config, input, 1));
    if (!(OH > 0 && OW > 0)) throw new Error('has no output pixels');
    return { output: [OH, OW, input[2]], params: [] };
  },

  forward(config, x, _params, pass) {
    const s = layerPool(config, pass.input, pass.N);
    const { y, argmax } = maxPool2dForward(x, s);
    return { y, backward: (dY) => ({ dX: maxPool2dBackward(argmax, dY, s), dParams: [] }) };
  },
};

/** One window over the whole image: each channel's maximum, [C] (or [1, 1, C] with keepdims). */
export const globalMaxPooling2dLayer: LayerReference<GlobalMaxPooling2DConfig> = {
  shape(config, input) {
    if (input.length !== 3) throw new Error('needs an [H, W, C] input');
    return { output: config.keepdims ? [1, 1, input[2]] : [input[2]], params: [] };
  },

  forward(_config, x, _params, { N, input: [H, W, C] }) {
    const s: PoolShape = { N, H, W, C, PH: H, PW: W, SY: H, SX: W };
    const { y, argmax } = maxPool2dForward(x, s);
    return { y, backward: (dY) => ({ dX: maxPool2dBackward(argmax, dY, s), dParams: [] }) };
  },
};
