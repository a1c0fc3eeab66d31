// Float64 CPU reference for conv2d.wgsl: x [N, H, W, C_in] (NHWC) convolved with
// w [KH, KW, C_in, C_out] (HWIO) gives y [N, OH, OW, C_out], with TensorFlow's
// strides and 'valid'/'same' padding, written as the plain sum over every tap;
// and the conv2d layer: that convolution, then bias and activation.
import type { Conv2DConfig } from '../engine/layers';
import type { LayerReference } from './layers';
import { kernelAndBias, productForward } from './product';

export interface Conv2dCase {
  N: number;
  H: number;
  W: number;
  C_in: number;
  KH: number;
  KW: number;
  C_out: number;
  strides: [number, number];
  padding: 'valid' | 'same';
}

/** Output size and padding before the first pixel along one dimension (TensorFlow's rules). */
function outputSize(size: number, kernel: number, stride: number, padding: 'valid' | 'same'): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.ceil((size - kernel + 1) / stride), before: 0 };
  const out = Math.ceil(size / stride);
  return { out, before: Math.floor(Math.max((out - 1) * stride + kernel - size, 0) / 2) };
}

export function conv2dOutputShape(c: Conv2dCase): [number, number, number, number] {
  return [c.N, outputSize(c.H, c.KH, c.strides[0], c.padding).out, outputSize(c.W, c.KW, c.strides[1], c.padding).out, c.C_out];
}

/**
 * Calls visit(xIndex, wIndex, yIndex) for every product x · w that adds to an
 * output element, skipping the taps that fall in the padding.
 */
function forEachTap(c: Conv2dCase, visit: (xi: number, wi: number, yi: number) => void): void {
  const rows = outputSize(c.H, c.KH, c.strides[0], c.padding);
  const cols = outputSize(c.W, c.KW, c.strides[1], c.padding);
  for (let n = 0; n < c.N; n++) {
    for (let oh = 0; oh < rows.out; oh++) {
      for (let ow = 0; ow < cols.out; ow++) {
        for (let kh = 0; kh < c.KH; kh++) {
          const ih = oh * c.strides[0] + kh - rows.before;
          if (ih < 0 || ih >= c.H) continue;
          for (let kw = 0; kw < c.KW; kw++) {
            const iw = ow * c.strides[1] + kw - cols.before;
            if (iw < 0 || iw >= c.W) continue;
            for (let ci = 0; ci < c.C_in; ci++) {
              for (let co = 0; co < c.C_out; co++) {
                const xi = ((n * c.H + ih) * c.W + iw) * c.C_in + ci;
                const wi = ((kh * c.KW + kw) * c.C_in + ci) * c.C_out + co;
                const yi = ((n * rows.out + oh) * cols.out + ow) * c.C_out + co;
                visit(xi, wi, yi);
              }
            }
          }
        }
      }
    }
  }
}

export function conv2dForward(x: ArrayLike<number>, w: ArrayLike<number>, c: Conv2dCase): Float64Array {
  const [N, OH, OW, C_out] = conv2dOutputShape(c);
  const y = new Float64Array(N * OH * OW * C_out);
  forEachTap(c, (xi, wi, yi) => (y[yi] += x[xi] * w[wi]));
  return y;
}

/** dInput and dWeight: each product x · w that made y sends dOut back to both factors. */
export function conv2dBackward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  dOut: ArrayLike<number>,
  c: Conv2dCase,
): { dInput: Float64Array; dWeight: Float64Array } {
  const dInput = new Float64Array(x.length);
  const dWeight = new Float64Array(w.length);
  forEachTap(c, (xi, wi, yi) => {
    dInput[xi] += dOut[yi] * w[wi];
    dWeight[wi] += dOut[yi] * x[xi];
  });
  return { dInput, dWeight };
}

/** The layer's convolution for N images of the input shape [H, W, C_in]. */
function layerCase(config: Conv2DConfig, [H, W, C_in]: readonly number[], N: number): Conv2dCase {
  const [KH, KW] = config.kernelSize;
  return { N, H, W, C_in, KH, KW, C_out: config.filters, strides: config.strides, padding: config.padding };
}

export const conv2dLayer: LayerReference<Conv2DConfig> = {
  shape(config, input) {
    if (input.length !== 3) throw new Error('needs an [H, W, C] input');
    const c = layerCase(config, input, 1);
    const [, OH, OW] = conv2dOutputShape(c);
    if (!(OH > 0 && OW > 0)) throw new Error(`has no output pixels for a ${c.KH}x${c.KW} kernel`);
    return { output: [OH, OW, c.C_out], params: kernelAndBias([c.KH, c.KW, c.C_in, c.C_out]) };
  },

  forward(config, x, [kernel, bias], pass) {
    const c = layerCase(config, pass.input, pass.N);
    const [, OH, OW, C_out] = conv2dOutputShape(c);
    const product = {
      z: conv2dForward(x, kernel, c),
      rows: pass.N * OH * OW,
      channels: C_out,
      backward: (dZ: ArrayLike<number>) => conv2dBackward(x, kernel, dZ, c),
    };
    return productForward(product, bias, config.activation, pass.activationInLoss);
  },
};
