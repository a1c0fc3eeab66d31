// Float64 CPU reference for avgpool2d.wgsl: average pooling over x [N, H, W, C]
// (N images, H x W pixels, C channels) with a PH x PW window, strides SY, SX and
// 'valid' or 'same' padding, where a window averages its in-image elements only
// (TensorFlow's avg_pool); and the averagePooling2d and globalAveragePooling2d layers.
import type { AveragePooling2DConfig, GlobalAveragePooling2DConfig } from '../engine/layers';
import type { LayerReference } from './layers';
import { poolAlong as along, type PoolShape } from './maxpool2d';

export interface AvgPoolShape extends PoolShape {
  padding: 'valid' | 'same';
}

export function avgPoolOutputSize(s: AvgPoolShape): [number, number] {
  return [along(s.H, s.PH, s.SY, s.padding).out, along(s.W, s.PW, s.SX, s.padding).out];
}

/** Calls visit(xIndex, yIndex, count) for each in-image element of each window, count being how many the window holds. */
function forEachWindowElement(s: AvgPoolShape, visit: (xi: number, yi: number, count: number) => void): void {
  const rows = along(s.H, s.PH, s.SY, s.padding);
  const cols = along(s.W, s.PW, s.SX, s.padding);
  let yi = 0;
  for (let n = 0; n < s.N; n++) {
    for (let oy = 0; oy < rows.out; oy++) {
      for (let ox = 0; ox < cols.out; ox++) {
        const inside: [number, number][] = [];
        for (let ky = 0; ky < s.PH; ky++) {
          for (let kx = 0; kx < s.PW; kx++) {
            const h = oy * s.SY + ky - rows.before;
            const w = ox * s.SX + kx - cols.before;
            if (h >= 0 && h < s.H && w >= 0 && w < s.W) inside.push([h, w]);
          }
        }
        for (let c = 0; c < s.C; c++, yi++) {
          for (const [h, w] of inside) visit(((n * s.H + h) * s.W + w) * s.C + c, yi, inside.length);
        }
      }
    }
  }
}

export function avgPool2dForward(x: ArrayLike<number>, s: AvgPoolShape): Float64Array {
  const [OH, OW] = avgPoolOutputSize(s);
  const y = new Float64Array(s.N * OH * OW * s.C);
  forEachWindowElement(s, (xi, yi, count) => (y[yi] += x[xi] / count));
  return y;
}

/** Each dOut shared equally among its window's in-image elements (the GPU gathers the shares instead). */
export function avgPool2dBackward(dOut: ArrayLike<number>, s: AvgPoolShape): Float64Array {
  const dInput = new Float64Array(s.N * s.H * s.W * s.C);
  forEachWindowElement(s, (xi, yi, count) => (dInput[xi] += dOut[yi] / count));
  return dInput;
}

/** The layer's pooling for N images of the input shape [H, W, C]. */
function layerPool(config: AveragePooling2DConfig, [H, W, C]: readonly number[], N: number): AvgPoolShape {
  const [PH, PW] = config.poolSize;
  const [SY, SX] = config.strides;
  return { N, H, W, C, PH, PW, SY, SX, padding: config.padding };
}

export const averagePooling2dLayer: LayerReference<AveragePooling2DConfig> = {
  shape(config, input) {
    if (input.length !== 3) throw new Error('needs an [H, W, C] input');
    const [OH, OW] = avgPoolOutputSize(layerPool(config, input, 1));
    if (!(OH > 0 && OW > 0)) throw new Error('has no output pixels');
    return { output: [OH, OW, input[2]], params: [] };
  },

  forward(config, x, _params, pass) {
    const s = layerPool(config, pass.input, pass.N);
    return { y: avgPool2dForward(x, s), backward: (dY) => ({ dX: avgPool2dBackward(dY, s), dParams: [] }) };
  },
};

/** One window over the whole image: each channel's mean, [C] (or [1, 1, C] with keepdims). */
export const globalAveragePooling2dLayer: LayerReference<GlobalAveragePooling2DConfig> = {
  shape(config, input) {
    if (input.length !== 3) throw new Error('needs an [H, W, C] input');
    return { output: config.keepdims ? [1, 1, input[2]] : [input[2]], params: [] };
  },

  forward(_config, x, _params, { N, input: [H, W, C] }) {
    const s: AvgPoolShape = { N, H, W, C, PH: H, PW: W, SY: H, SX: W, padding: 'valid' };
    return { y: avgPool2dForward(x, s), backward: (dY) => ({ dX: avgPool2dBackward(dY, s), dParams: [] }) };
  },
};
