// Float64 CPU reference for a whole sequential model trained with sparse
// categorical cross-entropy: the mean loss over a batch and the gradient of every
// parameter, composed from the per-op references next to this file.
//
// Shapes leave out the batch dimension, as layers.ts does: an image is [H, W, C]
// (height, width, channels), a vector [features]; a batch of N is row-major with
// N first. Parameters come in the order and layout of Model.getWeights(): for
// each layer that has them, its kernel ([KH, KW, C_in, C_out] or [in, out]), then
// its bias.
import type { LayerConfig } from '../../src/engine/layers';
import { activationBackward, activationForward } from './activation';
import { biasBackward, biasForward } from './bias';
import { conv2dBackward, conv2dForward, conv2dOutputShape, type Conv2dCase } from './conv2d';
import { matmulBackward, matmulForward } from './matmul';
import { maxPool2dBackward, maxPool2dForward, outputSize, type PoolShape } from './maxpool2d';
import { softmaxBackward, softmaxForward } from './softmax';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from './softmax_cross_entropy';

/** A parameter of the model, where Model.getWeights() names it `layers.<layer>.<name>`. */
export interface ParamShape {
  layer: number;
  name: 'kernel' | 'bias';
  shape: number[];
}

/** One layer's geometry, worked out from the op references' own shape rules. */
type Step =
  | { type: 'conv2d'; case: Conv2dCase; config: Extract<LayerConfig, { type: 'conv2d' }> }
  | { type: 'dense'; K: number; units: number; config: Extract<LayerConfig, { type: 'dense' }> }
  | { type: 'maxPooling2d'; pool: Omit<PoolShape, 'N'> }
  | { type: 'flatten' };

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function plan(layers: readonly LayerConfig[], inputShape: readonly number[]): { steps: Step[]; params: ParamShape[]; outputShape: number[] } {
  const steps: Step[] = [];
  const params: ParamShape[] = [];
  let shape = [...inputShape];
  layers.forEach((layer, i) => {
    const fail = (why: string): never => {
      throw new Error(`reference model: layer ${i} (${layer.type}) ${why}, input shape [${shape.join(', ')}]`);
    };
    switch (layer.type) {
      case 'conv2d': {
        if (shape.length !== 3) fail('needs an [H, W, C] input');
        const [H, W, C_in] = shape;
        const [KH, KW] = layer.kernelSize;
        const c: Conv2dCase = { N: 1, H, W, C_in, KH, KW, C_out: layer.filters, strides: layer.strides, padding: layer.padding };
        const [, OH, OW] = conv2dOutputShape(c);
        if (!(OH > 0 && OW > 0)) fail(`has no output pixels for a ${KH}x${KW} kernel`);
        steps.push({ type: 'conv2d', case: c, config: layer });
        params.push({ layer: i, name: 'kernel', shape: [KH, KW, C_in, layer.filters] }, { layer: i, name: 'bias', shape: [layer.filters] });
        shape = [OH, OW, layer.filters];
        break;
      }
      case 'maxPooling2d': {
        if (shape.length !== 3) fail('needs an [H, W, C] input');
        const [H, W, C] = shape;
        const pool = { H, W, C, PH: layer.poolSize[0], PW: layer.poolSize[1], SY: layer.strides[0], SX: layer.strides[1] };
        const [OH, OW] = outputSize({ N: 1, ...pool });
        if (!(OH > 0 && OW > 0)) fail('has no output pixels');
        steps.push({ type: 'maxPooling2d', pool });
        shape = [OH, OW, C];
        break;
      }
      case 'flatten':
        steps.push({ type: 'flatten' });
        shape = [size(shape)];
        break;
      case 'dense': {
        if (shape.length !== 1) fail('needs a flat input');
        steps.push({ type: 'dense', K: shape[0], units: layer.units, config: layer });
        params.push({ layer: i, name: 'kernel', shape: [shape[0], layer.units] }, { layer: i, name: 'bias', shape: [layer.units] });
        shape = [layer.units];
        break;
      }
    }
  });
  const last = layers[layers.length - 1];
  if (!last || !('activation' in last) || last.activation !== 'softmax' || shape.length !== 1) {
    throw new Error('reference model: the last layer must be dense with a softmax activation (its logits are [N, classes])');
  }
  return { steps, params, outputShape: shape };
}

/** The model's parameters, in Model.getWeights() order. */
export function modelParamShapes(layers: readonly LayerConfig[], inputShape: readonly number[]): ParamShape[] {
  return plan(layers, inputShape).params;
}

export interface ModelCase {
  layers: readonly LayerConfig[];
  inputShape: readonly number[];
  /** One array per parameter, in modelParamShapes() order. */
  params: readonly ArrayLike<number>[];
  /** [N, ...inputShape], row-major. */
  x: ArrayLike<number>;
  /** [N] class indices. */
  labels: ArrayLike<number>;
  N: number;
}

/** What the forward pass keeps for the backward one. */
interface Saved {
  x: ArrayLike<number>;
  /** After bias (the logits of the last layer), and after activation. */
  u?: Float64Array;
  y: ArrayLike<number>;
  argmax?: Uint32Array;
  /** Rows and channels of u as the row-wise ops see it: N·OH·OW pixels for conv2d. */
  rows: number;
  channels: number;
}

function forward(m: ModelCase): { steps: Step[]; saved: Saved[]; logits: Float64Array; loss: number; classes: number } {
  const { steps, params, outputShape } = plan(m.layers, m.inputShape);
  if (m.params.length !== params.length) throw new Error(`reference model: ${m.params.length} parameter arrays given, ${params.length} expected`);
  params.forEach((p, i) => {
    if (m.params[i].length !== size(p.shape)) {
      throw new Error(`reference model: layer ${p.layer} ${p.name} has ${m.params[i].length} values, [${p.shape.join(', ')}] expected`);
    }
  });
  if (m.x.length !== m.N * size(m.inputShape)) throw new Error(`reference model: x has ${m.x.length} values for ${m.N} inputs`);
  const { N } = m;
  const saved: Saved[] = [];
  let next = 0;
  let x: ArrayLike<number> = m.x;
  for (const step of steps) {
    let s: Saved;
    if (step.type === 'maxPooling2d') {
      const { y, argmax } = maxPool2dForward(x, { N, ...step.pool });
      s = { x, y, argmax, rows: 0, channels: 0 };
    } else if (step.type === 'flatten') {
      s = { x, y: x, rows: 0, channels: 0 };
    } else {
      const kernel = m.params[next++];
      const bias = m.params[next++];
      let z: Float64Array;
      let rows: number;
      let channels: number;
      if (step.type === 'conv2d') {
        const c = { ...step.case, N };
        const [, OH, OW, C_out] = conv2dOutputShape(c);
        z = conv2dForward(x, kernel, c);
        [rows, channels] = [N * OH * OW, C_out];
      } else {
        z = matmulForward(x, kernel, N, step.K, step.units);
        [rows, channels] = [N, step.units];
      }
      const u = biasForward(z, bias, rows, channels);
      const activation = step.config.activation;
      // The last layer's softmax is fused with the loss: its y is never used.
      const y =
        activation === 'linear' ? u : activation === 'softmax' ? softmaxForward(u, rows, channels) : activationForward(activation, u);
      s = { x, u, y, rows, channels };
    }
    saved.push(s);
    x = s.y;
  }
  const logits = saved[saved.length - 1].u!;
  const classes = outputShape[0];
  return { steps, saved, logits, classes, loss: softmaxCrossEntropyForward(logits, m.labels, N, classes) / N };
}

/** The mean (clipped) loss over the batch. */
export function modelLoss(m: ModelCase): number {
  return forward(m).loss;
}

/** The mean loss, the logits [N, classes], and d(mean loss)/d(parameter) for every parameter. */
export function modelGradients(m: ModelCase): { loss: number; logits: Float64Array; dParams: Float64Array[] } {
  const { steps, saved, logits, loss, classes } = forward(m);
  const { N } = m;
  const dParams: Float64Array[] = [];
  let next = m.params.length;
  // The gradient of the loss with respect to the current layer's output.
  let dY: ArrayLike<number> = new Float64Array(0);
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    const s = saved[i];
    if (step.type === 'maxPooling2d') {
      dY = maxPool2dBackward(s.argmax!, dY, { N, ...step.pool });
    } else if (step.type === 'conv2d' || step.type === 'dense') {
      const bias = next - 1;
      const kernel = next - 2;
      next -= 2;
      const activation = step.config.activation;
      const dU =
        i === steps.length - 1
          ? softmaxCrossEntropyBackward(logits, m.labels, N, classes)
          : activation === 'linear'
            ? dY
            : activation === 'softmax'
              ? softmaxBackward(s.y, dY, s.rows, s.channels)
              : activationBackward(activation, s.y, dY);
      dParams[bias] = biasBackward(dU, s.rows, s.channels);
      const { dInput, dWeight } =
        step.type === 'conv2d'
          ? conv2dBackward(s.x, m.params[kernel], dU, { ...step.case, N })
          : matmulBackward(s.x, m.params[kernel], dU, N, step.K, step.units);
      dParams[kernel] = dWeight;
      dY = dInput;
    }
    // flatten: the gradient passes through as it is.
  }
  return { loss, logits, dParams };
}
