// The workbench's kernel table: every kernel entry point that can be edited,
// each with its spec (KernelSpec, spec.ts): the shapes it offers, how it builds
// its inputs from a shape, the op's dispatches that run it as the engine does,
// and which float64 reference checks what it writes.
import activateLibrary from '../shaders/activate.wgsl?raw';
import activationSource from '../shaders/activation.wgsl?raw';
import conv2dSource from '../shaders/conv2d.wgsl?raw';
import matmulSource from '../shaders/matmul.wgsl?raw';
import softmaxSource from '../shaders/softmax.wgsl?raw';
import softmaxCrossEntropySource from '../shaders/softmaxCrossEntropy.wgsl?raw';
import maxPool2dSource from '../shaders/maxpool2d.wgsl?raw';
import avgPool2dSource from '../shaders/avgpool2d.wgsl?raw';
import dropoutSource from '../shaders/dropout.wgsl?raw';
import batchNormSource from '../shaders/batchnorm.wgsl?raw';
import rescalingSource from '../shaders/rescaling.wgsl?raw';
import optimizerSource from '../shaders/optimizer.wgsl?raw';
import scheduleSource from '../shaders/schedule.wgsl?raw';
import clipSource from '../shaders/clip.wgsl?raw';
import gatherSource from '../shaders/gather.wgsl?raw';
import lossScaleSource from '../shaders/lossScale.wgsl?raw';
import { conv2dBackward, conv2dForward } from '../engine/ops/conv2d';
import { matmulBackward, matmulForward } from '../engine/ops/matmul';
import { ACTIVATIONS, activationBackward, gradientInput, type Activation } from '../engine/ops/activation';
import { maxPool2dBackward, maxPool2dForward } from '../engine/ops/maxpool2d';
import { softmaxBackward, softmaxForward } from '../engine/ops/softmax';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from '../engine/ops/softmaxCrossEntropy';
import { avgPool2dBackward, avgPool2dForward } from '../engine/ops/avgpool2d';
import { dropoutAdvance, dropoutBackward, dropoutForward, dropoutInference } from '../engine/ops/dropout';
import { batchNormBackward, batchNormForward, batchNormMovingStatistics, batchNormStatistics } from '../engine/ops/batchnorm';
import { rescalingBackward, rescalingForward } from '../engine/ops/rescaling';
import { optimizerConfig, optimizerUpdate, type OptimizerKind } from '../engine/ops/optimizer';
import { cosineDecay, exponentialDecay, learningRateStep, piecewiseConstantDecay, type LearningRate } from '../engine/ops/schedule';
import { clipGradients, type Clipping, type Variable } from '../engine/ops/clip';
import { gatherForward, packedWords } from '../engine/ops/gather';
import { lossScaling } from '../engine/ops/lossScale';
import { withSums } from '../engine/ops/sums';
import { splitBiasRow } from '../engine/buffers';
import { kernelName } from '../engine/pipelines';
import { printable } from '../engine/safetensors';
import * as biasReference from '../reference/bias';
import * as conv2dReference from '../reference/conv2d';
import * as matmulReference from '../reference/matmul';
import * as activationReference from '../reference/activation';
import * as softmaxReference from '../reference/softmax';
import * as softmaxCrossEntropyReference from '../reference/softmaxCrossEntropy';
import * as maxPool2dReference from '../reference/maxpool2d';
import * as avgPool2dReference from '../reference/avgpool2d';
import * as dropoutReference from '../reference/dropout';
import * as batchNormReference from '../reference/batchnorm';
import * as rescalingReference from '../reference/rescaling';
import * as optimizerReference from '../reference/optimizer';
import * as scheduleReference from '../reference/schedule';
import * as clipReference from '../reference/clip';
import * as gatherReference from '../reference/gather';
import * as lossScaleReference from '../reference/lossScale';
import { checkShapeFits, concat, derived, labels, uniform, zeros, type KernelSpec, type Shape, type TensorSpec } from './spec';

const convCase = (s: Shape): conv2dReference.Conv2dCase => ({
  N: s.N,
  H: s.H,
  W: s.W,
  C_in: s.C_in,
  KH: s.KH,
  KW: s.KW,
  C_out: s.C_out,
  strides: [s.S, s.S],
  padding: s.same ? 'same' : 'valid',
});
const convOptions = (s: Shape) => ({ strides: [s.S, s.S] as [number, number], padding: s.same ? ('same' as const) : ('valid' as const) });

/**
 * conv2d's entry points. Two are helpers of the backward that write only scratch
 * or sums of it, so each is checked through the gradient it feeds, in the
 * backward's own dispatches: sum_slices (which adds up backward_weight's slices,
 * run when N·OH·OW >= 512) by dWeight, transpose_kernel (w as backward_input reads it) by dInput.
 */
function conv2dSpec(entryPoint: 'forward' | 'backward_input' | 'backward_weight' | 'sum_slices' | 'transpose_kernel'): KernelSpec {
  // The tutorial's first convolution has no dX to compute, so backward_input starts from its second.
  const first = { N: 128, H: 28, W: 28, C_in: 1, KH: 3, KW: 3, C_out: 32, S: 1, same: 0 };
  const second = { N: 128, H: 13, W: 13, C_in: 32, KH: 3, KW: 3, C_out: 64, S: 1, same: 0 };
  const inputSide = entryPoint === 'backward_input' || entryPoint === 'transpose_kernel';
  const tutorial = inputSide ? [second, first] : [first, second];
  const weight = entryPoint === 'backward_weight' || entryPoint === 'sum_slices';
  const small = [
    { name: 'size 1: one pixel, 1x1 kernel', shape: { N: 1, H: 1, W: 1, C_in: 1, KH: 1, KW: 1, C_out: 1, S: 1, same: 0 } },
    { name: 'odd sizes, stride 2, same', shape: { N: 3, H: 9, W: 11, C_in: 3, KH: 3, KW: 3, C_out: 5, S: 2, same: 1 } },
    { name: 'C_out 70: not a multiple of the 16-channel cell', shape: { N: 7, H: 9, W: 9, C_in: 5, KH: 3, KW: 3, C_out: 70, S: 1, same: 1 } },
  ];
  // Too few output pixels for a second slice, so no sum_slices dispatch: it gets shapes with 512 or more instead.
  const sliced = [{ name: 'two slices: N·OH·OW = 512', shape: { N: 2, H: 18, W: 18, C_in: 1, KH: 3, KW: 3, C_out: 4, S: 1, same: 0 } }];
  return {
    name: `conv2d.wgsl:${entryPoint}`,
    source: conv2dSource,
    library: activateLibrary,
    letters: 'x [N, H, W, C_in] ⊛ w [KH, KW, C_in, C_out], stride S, same=1 for padding "same"',
    presets: [
      { name: `tutorial conv ${tutorial[0] === first ? 1 : 2} (batch 128)`, shape: tutorial[0] },
      { name: `tutorial conv ${tutorial[0] === first ? 2 : 1} (batch 128)`, shape: tutorial[1] },
      ...(entryPoint === 'sum_slices' ? sliced : small),
    ],
    // As a Conv2D layer runs them: forward with its bias (the last row of wb; its activation is a
    // constant, ACTIVATION, linear here), the weight gradient with the bias' (the last row of
    // dWb); backward_input reads the kernel alone.
    tensors(s): Record<string, TensorSpec> {
      const [, OH, OW] = conv2dReference.conv2dOutputShape(convCase(s));
      const x = [s.N, s.H, s.W, s.C_in];
      const w = [s.KH, s.KW, s.C_in, s.C_out];
      const wb = [s.KH * s.KW * s.C_in + 1, s.C_out];
      const y = [s.N, OH, OW, s.C_out];
      if (entryPoint === 'forward') return { x: uniform(x), wb: uniform(wb), y: zeros(y) };
      if (weight) return { x: uniform(x), w: uniform(w), dOut: uniform(y), dWb: zeros(wb) };
      return { x: uniform(x), w: uniform(w), dOut: uniform(y), dWeight: zeros(w), dInput: zeros(x) };
    },
    checked: entryPoint === 'forward' ? 'y' : weight ? 'dWb' : 'dInput',
    async dispatches(device, t, s) {
      const w = [s.KH, s.KW, s.C_in, s.C_out];
      if (entryPoint === 'forward') return [await conv2dForward(device, { x: t.x, ...splitBiasRow(t.wb, w), y: t.y }, convOptions(s))];
      if (weight) {
        const { w: dWeight, bias: dBias } = splitBiasRow(t.dWb, w);
        return conv2dBackward(device, { x: t.x, w: t.w, dOut: t.dOut, dWeight, dBias }, convOptions(s));
      }
      return conv2dBackward(device, { x: t.x, w: t.w, dOut: t.dOut, dWeight: t.dWeight, dInput: t.dInput }, convOptions(s));
    },
    reference(v, s) {
      const rows = s.KH * s.KW * s.C_in;
      if (entryPoint === 'forward') {
        const z = conv2dReference.conv2dForward(v.x, v.wb.subarray(0, rows * s.C_out), convCase(s));
        return biasReference.biasForward(z, v.wb.subarray(rows * s.C_out), z.length / s.C_out, s.C_out);
      }
      const gradients = conv2dReference.conv2dBackward(v.x, v.w, v.dOut, convCase(s));
      if (!weight) return gradients.dInput;
      return concat([gradients.dWeight, biasReference.biasBackward(v.dOut, v.dOut.length / s.C_out, s.C_out)]);
    },
    contraction(s) {
      const [, OH, OW] = conv2dReference.conv2dOutputShape(convCase(s));
      return weight ? s.N * OH * OW : entryPoint === 'forward' ? s.KH * s.KW * s.C_in : s.KH * s.KW * s.C_out;
    },
  };
}

function matmulSpec(entryPoint: 'forward' | 'backward_input' | 'backward_input_relu' | 'backward_weight'): KernelSpec {
  // The tutorial's first dense layer needs no dX either.
  const first = { M: 128, K: 784, N: 128 };
  const second = { M: 128, K: 128, N: 10 };
  const dX = entryPoint === 'backward_input' || entryPoint === 'backward_input_relu';
  const tutorial = dX ? [second, first] : [first, second];
  return {
    name: `matmul.wgsl:${entryPoint}`,
    source: matmulSource,
    library: activateLibrary,
    letters: 'x [M, K] · w [K, N]: M rows (the batch), K inputs, N units',
    presets: [
      { name: `tutorial dense ${tutorial[0] === first ? 1 : 2} (batch 128)`, shape: tutorial[0] },
      { name: `tutorial dense ${tutorial[0] === first ? 2 : 1} (batch 128)`, shape: tutorial[1] },
      { name: 'size 1', shape: { M: 1, K: 1, N: 1 } },
      { name: 'odd sizes, not multiples of the 4x4 block', shape: { M: 33, K: 17, N: 65 } },
    ],
    // As a Dense layer runs them: forward with its bias (the last row of wb; its activation is a
    // constant, ACTIVATION, linear here), the weight gradient with the bias' (the last row of
    // dWb); backward_input reads the kernel alone, and backward_input_relu masks dX by x's
    // signs, as if a ReLU had written x.
    tensors(s): Record<string, TensorSpec> {
      if (entryPoint === 'forward') return { x: uniform([s.M, s.K]), wb: uniform([s.K + 1, s.N]), y: zeros([s.M, s.N]) };
      const backward = { x: uniform([s.M, s.K]), w: uniform([s.K, s.N]), dOut: uniform([s.M, s.N]) };
      return entryPoint === 'backward_weight' ? { ...backward, dWb: zeros([s.K + 1, s.N]) } : { ...backward, dWeight: zeros([s.K, s.N]), dInput: zeros([s.M, s.K]) };
    },
    checked: { forward: 'y', backward_input: 'dInput', backward_input_relu: 'dInput', backward_weight: 'dWb' }[entryPoint],
    async dispatches(device, t, s) {
      if (entryPoint === 'forward') return [await matmulForward(device, { x: t.x, ...splitBiasRow(t.wb, [s.K, s.N]), y: t.y })];
      if (entryPoint === 'backward_weight') {
        const { w: dWeight, bias: dBias } = splitBiasRow(t.dWb, [s.K, s.N]);
        return matmulBackward(device, { x: t.x, w: t.w, dOut: t.dOut, dWeight, dBias });
      }
      return matmulBackward(device, { x: t.x, w: t.w, dOut: t.dOut, dWeight: t.dWeight, dInput: t.dInput, ...(entryPoint === 'backward_input_relu' && { reluOf: t.x }) });
    },
    reference(v, s) {
      if (entryPoint === 'forward') {
        const z = matmulReference.matmulForward(v.x, v.wb.subarray(0, s.K * s.N), { M: s.M, K: s.K, N: s.N });
        return biasReference.biasForward(z, v.wb.subarray(s.K * s.N), s.M, s.N);
      }
      const gradients = matmulReference.matmulBackward(v.x, v.w, v.dOut, { M: s.M, K: s.K, N: s.N });
      if (entryPoint === 'backward_input') return gradients.dInput;
      if (entryPoint === 'backward_input_relu') return activationReference.activationBackward('relu', v.x, gradients.dInput);
      return concat([gradients.dWeight, biasReference.biasBackward(v.dOut, s.M, s.N)]);
    },
    contraction: (s) => ({ forward: s.K, backward_input: s.N, backward_input_relu: s.N, backward_weight: s.M })[entryPoint],
  };
}

function activationSpec(kind: Activation): KernelSpec {
  // The gradient reads y (an output of f: [0, 1) holds outputs of every activation), or for gelu x.
  const from = gradientInput(kind);
  return {
    name: `activation.wgsl:${kind}_backward`,
    source: activationSource,
    library: activateLibrary,
    letters: 'size: elements',
    presets: [
      { name: 'tutorial conv 1 output (batch 128)', shape: { size: 128 * 26 * 26 * 32 } },
      { name: 'size 1', shape: { size: 1 } },
      { name: 'odd size', shape: { size: 4097 } },
    ],
    tensors: ({ size }): Record<string, TensorSpec> => ({ [from]: from === 'y' ? uniform([size], 0, 1) : uniform([size], -4, 4), dOut: uniform([size]), dInput: zeros([size]) }),
    checked: 'dInput',
    dispatches: async (device, t) => [await activationBackward(device, kind, { [from]: t[from], dOut: t.dOut, dInput: t.dInput })],
    reference: (v) => activationReference.activationBackward(kind, v[from], v.dOut),
    contraction: () => 1,
  };
}

function softmaxSpec(direction: 'forward' | 'backward'): KernelSpec {
  return {
    name: `softmax.wgsl:${direction}`,
    source: softmaxSource,
    letters: 'x [rows, C]: softmax along each row of C classes',
    presets: [
      { name: 'tutorial output layer (batch 128, 10 classes)', shape: { rows: 128, C: 10 } },
      { name: 'size 1', shape: { rows: 1, C: 1 } },
      { name: 'odd sizes, rows not a multiple of the 64-row workgroup', shape: { rows: 65, C: 7 } },
    ],
    tensors: ({ rows, C }): Record<string, TensorSpec> =>
      direction === 'forward'
        ? { x: uniform([rows, C], -4, 4), y: zeros([rows, C]) }
        : // y is softmax's output: each row in (0, 1), summing to 1.
          { x: uniform([rows, C], -4, 4), y: derived([rows, C], (v) => softmaxReference.softmaxForward(v.x, rows, C)), dOut: uniform([rows, C]), dInput: zeros([rows, C]) },
    checked: direction === 'forward' ? 'y' : 'dInput',
    dispatches: async (device, t) =>
      direction === 'forward' ? [await softmaxForward(device, { x: t.x, y: t.y })] : [await softmaxBackward(device, { y: t.y, dOut: t.dOut, dInput: t.dInput })],
    reference: (v, { rows, C }) => (direction === 'forward' ? softmaxReference.softmaxForward(v.x, rows, C) : softmaxReference.softmaxBackward(v.y, v.dOut, rows, C)),
    contraction: ({ C }) => C,
  };
}

function softmaxCrossEntropySpec(direction: 'forward' | 'backward'): KernelSpec {
  return {
    name: `softmaxCrossEntropy.wgsl:${direction}`,
    source: softmaxCrossEntropySource,
    library: withSums('softmaxCrossEntropy.wgsl', softmaxCrossEntropySource).library,
    letters:
      direction === 'forward'
        ? 'logits [N, C] against labels [N] in 0..C-1; checks the sums [loss, rows right] and the running means [N, mean loss, accuracy], from zero'
        : 'logits [N, C] against labels [N] in 0..C-1; checks dLogits',
    presets: [
      { name: 'tutorial loss (batch 128, 10 classes)', shape: { N: 128, C: 10 } },
      { name: 'size 1', shape: { N: 1, C: 1 } },
      { name: 'odd sizes, more rows than the 256 invocations', shape: { N: 257, C: 3 } },
    ],
    tensors({ N, C }): Record<string, TensorSpec> {
      const inputs = { logits: uniform([N, C], -4, 4), labels: labels(N, C) };
      if (direction === 'backward') return { ...inputs, dLogits: zeros([N, C]) };
      return { ...inputs, sums: zeros([2]), runningMeans: zeros([3]) };
    },
    checked: direction === 'forward' ? ['sums', 'runningMeans'] : 'dLogits',
    dispatches: async (device, t) =>
      direction === 'forward'
        ? [await softmaxCrossEntropyForward(device, { logits: t.logits, labels: t.labels, sums: t.sums, runningMeans: t.runningMeans }, { accuracyAt: 1 })]
        : [await softmaxCrossEntropyBackward(device, { logits: t.logits, labels: t.labels, dLogits: t.dLogits })],
    reference(v, { N, C }) {
      if (direction === 'backward') return softmaxCrossEntropyReference.softmaxCrossEntropyBackward(v.logits, v.labels, N, C);
      const { lossSum, correct, runningMeans } = softmaxCrossEntropyReference.metricSums([{ logits: v.logits, labels: v.labels, N, C }]);
      return Float64Array.from([lossSum, correct, ...runningMeans]);
    },
    contraction: ({ N, C }) => (direction === 'forward' ? N * C : C),
  };
}

const poolLetters = 'x [N, H, W, C] pooled in PH x PW windows, stride SY x SX';

function maxPool2dSpec(direction: 'forward' | 'backward' | 'backward_relu'): KernelSpec {
  const pool = (s: Shape): maxPool2dReference.PoolShape => ({ N: s.N, H: s.H, W: s.W, C: s.C, PH: s.PH, PW: s.PW, SY: s.SY, SX: s.SX });
  const options = (s: Shape) => ({ poolSize: [s.PH, s.PW] as [number, number], strides: [s.SY, s.SX] as [number, number] });
  return {
    name: `maxpool2d.wgsl:${direction}`,
    source: maxPool2dSource,
    library: activateLibrary,
    letters: `${poolLetters} ('valid')${direction === 'forward' ? '; checks y and argmax' : `; argmax is forward's, from a random x${direction === 'backward_relu' ? ", and x masks the gradient as a ReLU's would" : ''}`}`,
    presets: [
      { name: 'tutorial pool 1 (batch 128)', shape: { N: 128, H: 26, W: 26, C: 32, PH: 2, PW: 2, SY: 2, SX: 2 } },
      { name: 'tutorial pool 2 (batch 128)', shape: { N: 128, H: 11, W: 11, C: 64, PH: 2, PW: 2, SY: 2, SX: 2 } },
      { name: 'size 1', shape: { N: 1, H: 1, W: 1, C: 1, PH: 1, PW: 1, SY: 1, SX: 1 } },
      { name: 'odd sizes, overlapping 3x3 windows, stride 2', shape: { N: 3, H: 9, W: 7, C: 5, PH: 3, PW: 3, SY: 2, SX: 2 } },
    ],
    tensors(s): Record<string, TensorSpec> {
      const [OH, OW] = maxPool2dReference.outputSize(pool(s));
      const x = [s.N, s.H, s.W, s.C];
      const y = [s.N, OH, OW, s.C];
      if (direction === 'forward') return { x: uniform(x), y: zeros(y), argmax: zeros(y, 'u32') };
      return {
        x: uniform(x),
        argmax: derived(y, (v) => maxPool2dReference.maxPool2dForward(v.x, pool(s)).argmax, 'u32'),
        dOut: uniform(y),
        dInput: zeros(x),
      };
    },
    checked: direction === 'forward' ? ['y', 'argmax'] : 'dInput',
    dispatches: async (device, t, s) =>
      direction === 'forward'
        ? [await maxPool2dForward(device, { x: t.x, y: t.y, argmax: t.argmax }, options(s))]
        : [await maxPool2dBackward(device, { argmax: t.argmax, dOut: t.dOut, dInput: t.dInput, ...(direction === 'backward_relu' && { reluOf: t.x }) }, options(s))],
    reference(v, s) {
      if (direction === 'backward') return maxPool2dReference.maxPool2dBackward(v.argmax, v.dOut, pool(s));
      if (direction === 'backward_relu') return activationReference.activationBackward('relu', v.x, maxPool2dReference.maxPool2dBackward(v.argmax, v.dOut, pool(s)));
      const { y, argmax } = maxPool2dReference.maxPool2dForward(v.x, pool(s));
      return concat([y, argmax]);
    },
    // Overlapping windows add up to ceil(PH/SY)·ceil(PW/SX) dOut values into one dInput.
    contraction: (s) => (direction === 'forward' ? 1 : Math.ceil(s.PH / s.SY) * Math.ceil(s.PW / s.SX)),
  };
}

function avgPool2dSpec(direction: 'forward' | 'backward'): KernelSpec {
  const pool = (s: Shape): avgPool2dReference.AvgPoolShape => ({ N: s.N, H: s.H, W: s.W, C: s.C, PH: s.PH, PW: s.PW, SY: s.SY, SX: s.SX, padding: s.same ? 'same' : 'valid' });
  const options = (s: Shape) => ({ poolSize: [s.PH, s.PW] as [number, number], strides: [s.SY, s.SX] as [number, number], padding: s.same ? ('same' as const) : ('valid' as const) });
  return {
    name: `avgpool2d.wgsl:${direction}`,
    source: avgPool2dSource,
    letters: `${poolLetters}, same=1 for padding "same"`,
    presets: [
      // The tutorial pools by maximum; average pooling at its first pool's shape.
      { name: 'tutorial pool 1 shape (batch 128)', shape: { N: 128, H: 26, W: 26, C: 32, PH: 2, PW: 2, SY: 2, SX: 2, same: 0 } },
      { name: 'size 1', shape: { N: 1, H: 1, W: 1, C: 1, PH: 1, PW: 1, SY: 1, SX: 1, same: 0 } },
      { name: 'odd sizes, overlapping 3x3 windows, stride 2, same', shape: { N: 3, H: 9, W: 7, C: 5, PH: 3, PW: 3, SY: 2, SX: 2, same: 1 } },
    ],
    tensors(s): Record<string, TensorSpec> {
      const [OH, OW] = avgPool2dReference.avgPoolOutputSize(pool(s));
      const x = [s.N, s.H, s.W, s.C];
      const y = [s.N, OH, OW, s.C];
      return direction === 'forward' ? { x: uniform(x), y: zeros(y) } : { dOut: uniform(y), dInput: zeros(x) };
    },
    checked: direction === 'forward' ? 'y' : 'dInput',
    dispatches: async (device, t, s) =>
      direction === 'forward'
        ? [await avgPool2dForward(device, { x: t.x, y: t.y }, options(s))]
        : [await avgPool2dBackward(device, { dOut: t.dOut, dInput: t.dInput }, options(s))],
    reference: (v, s) => (direction === 'forward' ? avgPool2dReference.avgPool2dForward(v.x, pool(s)) : avgPool2dReference.avgPool2dBackward(v.dOut, pool(s))),
    contraction: (s) => (direction === 'forward' ? s.PH * s.PW : Math.ceil(s.PH / s.SY) * Math.ceil(s.PW / s.SX)),
  };
}

function dropoutSpec(entryPoint: 'forward' | 'backward' | 'advance' | 'identity'): KernelSpec {
  const options = (s: Shape) => ({ rate: s.rate / 100, seed: s.seed });
  const mask = (s: Shape) => dropoutReference.dropoutMask(s.size, { rate: s.rate / 100, seed: s.seed, step: s.step });
  const size = 128 * 128;
  return {
    name: `dropout.wgsl:${entryPoint}`,
    source: dropoutSource,
    letters:
      entryPoint === 'advance'
        ? 'step: the step counter before the kernel adds 1 (size, rate, seed unused)'
        : entryPoint === 'identity'
          ? 'size: elements, copied as in inference (rate, seed, step unused)'
          : 'size: elements; rate: percent dropped; seed: the masks\' seed; step: the step counter the mask is drawn for',
    presets: [
      { name: 'a dense layer of 128 units (batch 128), rate 50%', shape: { size, rate: 50, seed: 7, step: 1 } },
      { name: 'size 1', shape: { size: 1, rate: 50, seed: 7, step: 1 } },
      { name: 'odd size, rate 20%, a later step', shape: { size: 4097, rate: 20, seed: 12345, step: 9 } },
    ],
    tensors(s): Record<string, TensorSpec> {
      const step = derived([1], () => [s.step], 'u32');
      if (entryPoint === 'advance') return { step };
      if (entryPoint === 'identity') return { x: uniform([s.size]), y: zeros([s.size]) };
      return entryPoint === 'forward' ? { x: uniform([s.size]), y: zeros([s.size]), step } : { dOut: uniform([s.size]), dInput: zeros([s.size]), step };
    },
    checked: { forward: 'y', backward: 'dInput', advance: 'step', identity: 'y' }[entryPoint],
    async dispatches(device, t, s) {
      if (entryPoint === 'advance') return [await dropoutAdvance(device, t.step)];
      if (entryPoint === 'identity') return [await dropoutInference(device, { x: t.x, y: t.y })];
      return entryPoint === 'forward'
        ? [await dropoutForward(device, { x: t.x, y: t.y, step: t.step }, options(s))]
        : [await dropoutBackward(device, { dOut: t.dOut, dInput: t.dInput, step: t.step }, options(s))];
    },
    reference(v, s) {
      if (entryPoint === 'advance') return Float64Array.of(s.step + 1);
      // The reference layer in inference is the identity.
      if (entryPoint === 'identity') return Float64Array.from(v.x);
      return entryPoint === 'forward'
        ? dropoutReference.dropoutForward(v.x, mask(s), s.rate / 100)
        : dropoutReference.dropoutBackward(v.dOut, mask(s), s.rate / 100);
    },
    contraction: () => 1,
  };
}

function rescalingSpec(entryPoint: 'forward' | 'backward'): KernelSpec {
  // Raw 0..255 pixels into [-1, 1], as some models take them: both a scale and an offset.
  const options = { scale: 1 / 127.5, offset: -1 };
  return {
    name: `rescaling.wgsl:${entryPoint}`,
    source: rescalingSource,
    letters: 'size: elements, scaled by 1/127.5 and offset by -1 (pixels 0..255 into [-1, 1])',
    presets: [
      { name: 'a batch of MNIST images (128)', shape: { size: 128 * 28 * 28 } },
      { name: 'size 1', shape: { size: 1 } },
      { name: 'odd size', shape: { size: 4097 } },
    ],
    tensors: ({ size }): Record<string, TensorSpec> =>
      entryPoint === 'forward' ? { x: uniform([size], 0, 255), y: zeros([size]) } : { dOut: uniform([size]), dInput: zeros([size]) },
    checked: entryPoint === 'forward' ? 'y' : 'dInput',
    dispatches: async (device, t) => [
      entryPoint === 'forward' ? await rescalingForward(device, { x: t.x, y: t.y }, options) : await rescalingBackward(device, { dOut: t.dOut, dInput: t.dInput }, options),
    ],
    reference: (v) =>
      entryPoint === 'forward' ? rescalingReference.rescalingForward(v.x, options.scale, options.offset) : rescalingReference.rescalingBackward(v.dOut, options.scale),
    contraction: () => 1,
  };
}

type BatchNormEntry = 'statistics' | 'moving_statistics' | 'normalize' | 'backward_reduce' | 'backward_input';

/** Keras' BatchNormalization defaults. */
const BATCH_NORM = { momentum: 0.99, epsilon: 1e-3 };

function batchNormSpec(entryPoint: BatchNormEntry): KernelSpec {
  const { momentum, epsilon } = BATCH_NORM;
  // The references take the variance; the kernels take 1 / sqrt(variance + epsilon).
  const variance = (invStd: ArrayLike<number>) => Float64Array.from(invStd, (v) => 1 / (v * v) - epsilon);
  const backward = entryPoint === 'backward_reduce' || entryPoint === 'backward_input';
  return {
    name: `batchnorm.wgsl:${entryPoint}`,
    source: batchNormSource,
    letters: `x [rows, C]: rows are every position but the channels; momentum ${momentum}, epsilon ${epsilon} (Keras' defaults)${
      entryPoint === 'moving_statistics' ? '; rows unused' : backward ? "; mean and inv_std are x's batch statistics" : ''
    }`,
    presets: [
      { name: 'conv 1 output of the tutorial (batch 128)', shape: { rows: 128 * 26 * 26, C: 32 } },
      { name: 'dense 1 output of the tutorial (batch 128)', shape: { rows: 128, C: 128 } },
      { name: 'size 1', shape: { rows: 1, C: 1 } },
      { name: 'odd sizes, not multiples of the 16x16 workgroup', shape: { rows: 33, C: 17 } },
    ],
    tensors({ rows, C }): Record<string, TensorSpec> {
      const x = [rows, C];
      const moving = { movingMean: uniform([C]), movingVariance: uniform([C], 0.5, 2) };
      const out = { mean: zeros([C]), invStd: zeros([C]) };
      switch (entryPoint) {
        case 'statistics':
          return { x: uniform(x), ...out, ...moving };
        case 'moving_statistics':
          return { ...out, ...moving };
        case 'normalize':
          return { x: uniform(x), gamma: uniform([C], 0.5, 1.5), beta: uniform([C]), mean: uniform([C]), invStd: uniform([C], 0.5, 2), y: zeros(x) };
        default: {
          const statistics = (v: Record<string, Float64Array>) => batchNormReference.batchStatistics(v.x, rows, C);
          const inputs = {
            x: uniform(x),
            dOut: uniform(x),
            gamma: uniform([C], 0.5, 1.5),
            mean: derived([C], (v) => statistics(v).mean),
            invStd: derived([C], (v) => statistics(v).variance.map((s) => 1 / Math.sqrt(s + epsilon))),
            dGamma: zeros([C]),
            dBeta: zeros([C]),
          };
          return entryPoint === 'backward_input' ? { ...inputs, dInput: zeros(x) } : inputs;
        }
      }
    },
    checked: {
      statistics: ['mean', 'invStd', 'movingMean', 'movingVariance'],
      moving_statistics: ['mean', 'invStd'],
      normalize: 'y',
      backward_reduce: ['dGamma', 'dBeta'],
      backward_input: 'dInput',
    }[entryPoint],
    async dispatches(device, t) {
      switch (entryPoint) {
        case 'statistics':
          return [await batchNormStatistics(device, { x: t.x, mean: t.mean, invStd: t.invStd, movingMean: t.movingMean, movingVariance: t.movingVariance }, BATCH_NORM)];
        case 'moving_statistics':
          return [await batchNormMovingStatistics(device, { mean: t.mean, invStd: t.invStd, movingMean: t.movingMean, movingVariance: t.movingVariance }, BATCH_NORM)];
        case 'normalize':
          return [await batchNormForward(device, { x: t.x, gamma: t.gamma, beta: t.beta, mean: t.mean, invStd: t.invStd, y: t.y }, BATCH_NORM)];
        default:
          return batchNormBackward(
            device,
            { x: t.x, dOut: t.dOut, gamma: t.gamma, mean: t.mean, invStd: t.invStd, dGamma: t.dGamma, dBeta: t.dBeta, dInput: t.dInput },
            BATCH_NORM,
          );
      }
    },
    reference(v, { rows, C }) {
      const invStd = (s: Float64Array) => s.map((x) => 1 / Math.sqrt(x + epsilon));
      switch (entryPoint) {
        case 'statistics': {
          const s = batchNormReference.batchStatistics(v.x, rows, C);
          const movingMean = batchNormReference.movingUpdate(v.movingMean, s.mean, momentum);
          const movingVariance = batchNormReference.movingUpdate(v.movingVariance, s.variance, momentum);
          return concat([s.mean, invStd(s.variance), movingMean, movingVariance]);
        }
        case 'moving_statistics':
          return concat([v.movingMean, invStd(v.movingVariance)]);
        case 'normalize':
          return batchNormReference.batchNormForward(v.x, { gamma: v.gamma, beta: v.beta, mean: v.mean, variance: variance(v.invStd), epsilon }, C);
        default: {
          const g = batchNormReference.batchNormBackward(v.x, v.dOut, { gamma: v.gamma, mean: v.mean, variance: variance(v.invStd), epsilon }, rows, C);
          return entryPoint === 'backward_input' ? g.dInput : concat([g.dGamma, g.dBeta]);
        }
      }
    },
    contraction: ({ rows }) => (entryPoint === 'normalize' || entryPoint === 'moving_statistics' ? 1 : rows),
  };
}

/** The shader's names of each optimizer's state, with the range of their random starting values. */
const OPTIMIZER_STATE: Record<OptimizerKind, [string, [number, number]][]> = {
  sgd: [],
  momentum: [['velocity', [-0.1, 0.1]]],
  nesterov: [['velocity', [-0.1, 0.1]]],
  rmsprop: [['mean_square', [0, 1]]],
  adam: [
    ['first_moment', [-0.1, 0.1]],
    ['second_moment', [0, 1]],
  ],
  adamw: [
    ['first_moment', [-0.1, 0.1]],
    ['second_moment', [0, 1]],
  ],
};

/** An update with Keras' defaults, and the dispatch before it that counts the step: both checked. */
function optimizerSpec(kind: OptimizerKind): KernelSpec {
  const config = optimizerConfig(kind);
  const learningRate = config.learningRate as number;
  const state = OPTIMIZER_STATE[kind];
  // The tutorial's MLP: 784 -> 128 -> 10 with biases.
  const tutorial = 784 * 128 + 128 + 128 * 10 + 10;
  return {
    name: `optimizer.wgsl:${kind}`,
    source: optimizerSource,
    letters: `size: parameters, updated with Keras' defaults (learning rate ${learningRate}); t: the updates made before this one; checks param${state.map(([n]) => `, ${n}`).join('')} and the step count`,
    presets: [
      { name: "the tutorial MLP's parameters", shape: { size: tutorial, t: 0 } },
      { name: 'size 1', shape: { size: 1, t: 0 } },
      { name: 'odd size, a later step', shape: { size: 257, t: 4 } },
    ],
    tensors(s): Record<string, TensorSpec> {
      const tensors: Record<string, TensorSpec> = { param: uniform([s.size]), grad: uniform([s.size]) };
      for (const [name, [low, high]] of state) tensors[name] = uniform([s.size], low, high);
      tensors.step = derived([1], () => [s.t], 'u32');
      tensors.learningRate = derived([1], () => [learningRate]);
      return tensors;
    },
    checked: ['param', ...state.map(([name]) => name), 'step'],
    dispatches: (device, t) =>
      optimizerUpdate(device, config, { param: t.param, grad: t.grad, state: state.map(([name]) => t[name]), step: t.step, learningRate: t.learningRate }),
    reference(v, s) {
      const param = Float64Array.from(v.param);
      const moments = state.map(([name]) => Float64Array.from(v[name]));
      optimizerReference.optimizerStep(config, param, v.grad, moments, { t: s.t + 1 });
      return concat([param, ...moments, [s.t + 1]]);
    },
    contraction: () => 1,
  };
}

/** Each schedule's entry point, with the schedule it runs (Keras' documentation's examples); `constant` only counts the step. */
const SCHEDULES: Record<'constant' | 'exponential_decay' | 'piecewise_constant_decay' | 'cosine_decay', LearningRate> = {
  constant: 0.001,
  exponential_decay: exponentialDecay({ initialLearningRate: 0.1, decaySteps: 100, decayRate: 0.96 }),
  piecewise_constant_decay: piecewiseConstantDecay({ boundaries: [100, 200], values: [0.1, 0.01, 0.001] }),
  cosine_decay: cosineDecay({ initialLearningRate: 0, decaySteps: 1000, warmupTarget: 0.1, warmupSteps: 100, alpha: 0.1 }),
};

/** The dispatch before each update: the rate of the update after t updates, and the step counted. */
function scheduleSpec(entryPoint: keyof typeof SCHEDULES): KernelSpec {
  const rate = SCHEDULES[entryPoint];
  return {
    name: `schedule.wgsl:${entryPoint}`,
    source: scheduleSource,
    letters: `t: the updates made so far; writes the next update's rate (${typeof rate === 'number' ? `constant, ${rate}` : JSON.stringify(rate)}) and counts it; checks learningRate and step`,
    presets: [
      { name: 'the first step', shape: { t: 0 } },
      { name: 'at a boundary', shape: { t: 100 } },
      { name: 'long past the end', shape: { t: 5000 } },
    ],
    tensors: (s) => ({ step: derived([1], () => [s.t], 'u32'), learningRate: derived([1], () => [typeof rate === 'number' ? rate : 0]) }),
    checked: ['learningRate', 'step'],
    dispatches: async (device, t) => [await learningRateStep(device, rate, { step: t.step, learningRate: t.learningRate })],
    reference: (_, s) => Float64Array.of(scheduleReference.learningRateAt(rate, s.t), s.t + 1),
    contraction: () => 1,
  };
}

/**
 * Gradient clipping over V variables of L gradients each. The three passes of
 * the norms are checked through the gradients they clip, with a clipnorm of
 * sqrt(L) / 4, which binds for uniform [-1, 1] gradients (their norm is near sqrt(L / 3)).
 */
function clipSpec(entryPoint: 'sum_squares' | 'norm_scales' | 'scale' | 'clip_value'): KernelSpec {
  const clipping = (s: Shape): Clipping => (entryPoint === 'clip_value' ? { clipvalue: 0.5 } : { clipnorm: Math.sqrt(s.L) / 4 });
  const variables = (s: Shape): Variable[] => Array.from({ length: s.V }, (_, i) => ({ start: i * s.L, length: s.L }));
  return {
    name: `clip.wgsl:${entryPoint}`,
    source: clipSource,
    letters: `V variables of L gradients each, clipped ${entryPoint === 'clip_value' ? 'to [-0.5, 0.5]' : 'to a norm of sqrt(L) / 4 each'}; checks grad`,
    presets: [
      { name: "the tutorial MLP's parameters, as 4 variables of 25,443", shape: { V: 4, L: 25_443 } },
      { name: 'size 1', shape: { V: 1, L: 1 } },
      { name: 'a chunk of 4096 and one more', shape: { V: 3, L: 4097 } },
    ],
    tensors: (s) => ({ grad: uniform([s.V * s.L]) }),
    checked: 'grad',
    dispatches: (device, t, s) => clipGradients(device, clipping(s), { grad: t.grad, variables: variables(s) }),
    reference: (v, s) => clipReference.clipGradients(clipping(s), v.grad, variables(s)),
    contraction: (s) => (entryPoint === 'clip_value' ? 1 : s.L),
  };
}

/** The tutorial CNN's parameters, and its loss' gradient at batch 128: what loss scaling runs over. */
const CNN_PARAMETERS = 225_034;
const CNN_LOGITS = 128 * 10;

/**
 * Mixed precision's loss scaling at a scale of 2^e with c finite steps
 * counted: scale_gradient checked on the loss' gradient (N values), unscale
 * on the gradients (size), adjust (after unscale, as a step runs them) on the
 * scale and the count after the step, with the gradient at `bad` (1-based; 0
 * for none) made infinite, and a growth of 2,000 steps.
 */
function lossScaleSpec(entryPoint: 'scale_gradient' | 'unscale' | 'adjust'): KernelSpec {
  const config = { initialScale: 2 ** 15, dynamicGrowthSteps: 2000 };
  const what = { scale_gradient: "the loss' gradient times 2^e; checks it", unscale: 'the gradients divided by 2^e; checks them', adjust: 'checks the scale and the count after the step' }[entryPoint];
  const presets = {
    scale_gradient: [
      { name: "the tutorial CNN's logits at batch 128", shape: { N: CNN_LOGITS, e: 15 } },
      { name: 'size 1, a scale of 1', shape: { N: 1, e: 0 } },
      { name: 'odd size', shape: { N: 1001, e: 40 } },
    ],
    unscale: [
      { name: "the tutorial CNN's parameters", shape: { size: CNN_PARAMETERS, e: 15 } },
      { name: 'size 1', shape: { size: 1, e: 15 } },
      { name: 'odd size, a scale of 2^100', shape: { size: 1001, e: 100 } },
    ],
    adjust: [
      { name: "the tutorial CNN's parameters, finite", shape: { size: CNN_PARAMETERS, e: 15, c: 7, bad: 0 } },
      { name: 'the 2,000th finite step doubles the scale', shape: { size: 1, e: 15, c: 1999, bad: 0 } },
      { name: 'an infinite gradient halves it', shape: { size: 1001, e: 15, c: 1999, bad: 1001 } },
    ],
  }[entryPoint];
  return {
    name: `lossScale.wgsl:${entryPoint}`,
    source: lossScaleSource,
    letters: `loss scale 2^e, c finite steps so far, N values of the loss' gradient, size gradients (the one at bad infinite, 0: none): ${what}`,
    presets,
    tensors: (s): Record<string, TensorSpec> => ({
      scale: derived([1], () => [2 ** s.e]),
      finiteSteps: derived([1], () => [s.c ?? 0], 'u32'),
      lossGradient: uniform([s.N ?? 1]),
      values: uniform([s.size ?? 1]),
      grad: derived([s.size ?? 1], (v) => v.values.map((g, i) => (i === (s.bad ?? 0) - 1 ? Infinity : g))),
    }),
    checked: { scale_gradient: 'lossGradient', unscale: 'grad', adjust: ['scale', 'finiteSteps'] }[entryPoint],
    async dispatches(device, t) {
      const { scaleGradient, check } = await lossScaling(device, config, { scale: t.scale, finiteSteps: t.finiteSteps, lossGradient: t.lossGradient, grad: t.grad, gated: 1 });
      return entryPoint === 'scale_gradient' ? [scaleGradient] : entryPoint === 'unscale' ? [check[0]] : check;
    },
    reference(v, s) {
      if (entryPoint === 'scale_gradient') return lossScaleReference.scaleGradient(v.lossGradient, 2 ** s.e);
      const step = lossScaleReference.lossScaleStep(v.grad, { scale: 2 ** s.e, finiteSteps: s.c ?? 0 }, config);
      return entryPoint === 'unscale' ? step.grads : Float64Array.of(step.scale, step.finiteSteps);
    },
    contraction: () => 1,
  };
}

function gatherSpec(entryPoint: 'forward' | 'forward_bytes'): KernelSpec {
  const bytes = entryPoint === 'forward_bytes';
  return {
    name: `gather.wgsl:${entryPoint}`,
    source: gatherSource,
    letters: `N rows picked by index from a column of a data set of \`rows\` rows of R values${bytes ? ' held as bytes, four to a word' : ''}; checks y`,
    presets: [
      { name: 'a batch of the tutorial (batch 128 of 1,000 MNIST images)', shape: { rows: 1000, R: 784, N: 128 } },
      { name: 'size 1', shape: { rows: 1, R: 1, N: 1 } },
      { name: 'odd sizes, rows that start inside a word, rows picked twice', shape: { rows: 13, R: 7, N: 65 } },
    ],
    tensors: ({ rows, R, N }): Record<string, TensorSpec> => ({
      x: bytes ? { shape: [packedWords(rows * R)], dtype: 'u32', random: [0, 2 ** 32] } : uniform([rows, R]),
      indices: { shape: [N], dtype: 'u32', random: [0, rows] },
      y: zeros([N, R]),
    }),
    checked: 'y',
    dispatches: async (device, t, { rows }) => [await gatherForward(device, { source: { data: t.x, rows, bytes }, indices: t.indices, y: t.y })],
    reference: (v, { rows, R }) => gatherReference.gather(bytes ? gatherReference.unpackBytes(v.x, rows * R) : v.x, v.indices, R),
    contraction: () => 1,
  };
}

const SPECS: KernelSpec[] = [
  ...(['forward', 'backward_input', 'backward_weight', 'sum_slices', 'transpose_kernel'] as const).map(conv2dSpec),
  ...(['forward', 'backward_input', 'backward_input_relu', 'backward_weight'] as const).map(matmulSpec),
  ...ACTIVATIONS.map(activationSpec),
  ...(['forward', 'backward'] as const).map(softmaxSpec),
  ...(['forward', 'backward'] as const).map(softmaxCrossEntropySpec),
  ...(['forward', 'backward', 'backward_relu'] as const).map(maxPool2dSpec),
  ...(['forward', 'backward'] as const).map(avgPool2dSpec),
  ...(['forward', 'backward', 'advance', 'identity'] as const).map(dropoutSpec),
  ...(['forward', 'backward'] as const).map(rescalingSpec),
  ...(['statistics', 'moving_statistics', 'normalize', 'backward_reduce', 'backward_input'] as const).map(batchNormSpec),
  ...(['sgd', 'momentum', 'nesterov', 'rmsprop', 'adam', 'adamw'] as const).map(optimizerSpec),
  ...(['constant', 'exponential_decay', 'piecewise_constant_decay', 'cosine_decay'] as const).map(scheduleSpec),
  ...(['sum_squares', 'norm_scales', 'scale', 'clip_value'] as const).map(clipSpec),
  ...(['scale_gradient', 'unscale', 'adjust'] as const).map(lossScaleSpec),
  ...(['forward', 'forward_bytes'] as const).map(gatherSpec),
];

/** What the workbench offers for one kernel. */
export interface WorkbenchKernel {
  /** `conv2d.wgsl:forward`. */
  name: string;
  /** `conv2d:forward`, as compile({ kernels }) and the CLI take it. */
  shortName: string;
  letters: string;
  presets: { name: string; shape: Shape }[];
}

/** The spec of kernel `name` (`conv2d:forward` or `conv2d.wgsl:forward`). */
export function kernelSpec(name: string): KernelSpec {
  const found = SPECS.find((s) => s.name === kernelName(name));
  if (!found) throw new Error(`workbench: no kernel '${printable(name)}' (it has: ${SPECS.map((s) => s.name.replace('.wgsl', '')).join(', ')})`);
  return found;
}

/** The kernels the workbench offers, in the table's order. */
export function workbenchKernels(): WorkbenchKernel[] {
  return SPECS.map((s) => ({ name: s.name, shortName: s.name.replace('.wgsl', ''), letters: s.letters, presets: s.presets }));
}

/** The kernel's built-in WGSL: its whole shader file. */
export function builtInSource(name: string): string {
  return kernelSpec(name).source;
}

/** The shape with every letter the kernel needs, from its default and what is given; unknown or bad letters are refused. */
export function fullShape(name: string, given: Shape = {}): Shape {
  const s = kernelSpec(name);
  const shape = { ...s.presets[0].shape };
  for (const [letter, value] of Object.entries(given)) {
    // Own letters only: `'toString' in shape` is true.
    if (!Object.hasOwn(shape, letter)) throw new Error(`${s.name}: the shape has no letter '${printable(letter)}' (it has: ${Object.keys(shape).join(', ')})`);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${s.name}: ${letter} must be a non-negative integer, got ${value}`);
    shape[letter] = value;
  }
  return shape;
}

/** Throws, with the figure, unless kernel `name`'s tensors at `shape` fit a buffer on a device of `limits` (left out: not checked) and its CPU side the workbench's memory ceiling. */
export function checkShape(name: string, shape: Shape, limits?: GPUSupportedLimits): void {
  checkShapeFits(kernelSpec(name), fullShape(name, shape), limits);
}
