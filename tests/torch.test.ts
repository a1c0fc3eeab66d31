// The PyTorch conversion without PyTorch (tests/node/torch.test.ts runs the real
// one): layouts checked value by value, the round trip byte for byte, and the errors.
import { describe, expect, test } from 'vitest';
import { averagePooling2d, batchNormalization, conv2d, dense, dropout, flatten, maxPooling2d, type LayerConfig } from '../src/engine/layers';
import { Model } from '../src/engine/model';
import { encodeModelFile, readModelFile } from '../src/engine/modelFile';
import { decodeSafetensors, encodeSafetensors, type Weight } from '../src/engine/safetensors';
import { modelFileFromTorch, modelFileToTorch, torchFiles } from '../src/engine/torchConvert';
import { seededRandom } from './helpers';

/** A model file with seeded random weights (no GPU): every value distinct, so a misplaced one shows. */
function modelFile(layers: LayerConfig[], inputShape: number[], seed = 1): Uint8Array {
  const random = seededRandom(seed);
  const model = new Model(layers, inputShape);
  const weights: Weight[] = model.shapes.flatMap(({ params }, i) =>
    params.map((p) => ({
      name: `layers.${i}.${p.name}`,
      shape: p.shape,
      values: Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => (p.name === 'moving_variance' ? 0.5 + random() : random() - 0.5)),
    })),
  );
  return encodeModelFile({ inputShape, layers }, weights);
}

const tensors = (bytes: Uint8Array) => new Map(decodeSafetensors(bytes, 'test').weights.map((w) => [w.name, w]));

/** Every layer kind, with 'same' padding, strides, and a flatten of a many-channel image before batch norm and dense. */
const EVERY_KIND: [LayerConfig[], number[]] = [
  [
    conv2d({ filters: 4, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'relu', inputShape: [7, 6, 2] }),
    batchNormalization(),
    averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
    conv2d({ filters: 3, kernelSize: 2, activation: 'tanh' }),
    maxPooling2d({ poolSize: [1, 2] }),
    dropout({ rate: 0.25 }),
    flatten(),
    batchNormalization({ momentum: 0.9, epsilon: 1e-2 }),
    dropout({ rate: 0.5 }),
    dense({ units: 5, activation: 'sigmoid' }),
    dense({ units: 3, activation: 'softmax' }),
  ],
  [7, 6, 2],
];

describe('toTorch layouts', () => {
  test('conv2d: kernel [KH, KW, C_in, C_out] becomes weight [C_out, C_in, KH, KW]', () => {
    const ours = modelFile([conv2d({ filters: 3, kernelSize: [2, 4], inputShape: [5, 6, 2] })], [5, 6, 2]);
    const kernel = readModelFile(ours, 'test').weights[0];
    const weight = tensors(modelFileToTorch(ours, 'test')).get('0.weight')!;
    expect(weight.shape).toEqual([3, 2, 2, 4]);
    for (let co = 0; co < 3; co++)
      for (let ci = 0; ci < 2; ci++)
        for (let kh = 0; kh < 2; kh++)
          for (let kw = 0; kw < 4; kw++) expect(weight.values[((co * 2 + ci) * 2 + kh) * 4 + kw]).toBe(kernel.values[((kh * 4 + kw) * 2 + ci) * 3 + co]);
  });

  test('dense after flatten of [H=2, W=3, C=4]: weight [out, in] with inputs in NCHW order', () => {
    const ours = modelFile([flatten({ inputShape: [2, 3, 4] }), dense({ units: 5, activation: 'softmax' })], [2, 3, 4]);
    const kernel = readModelFile(ours, 'test').weights[0];
    const weight = tensors(modelFileToTorch(ours, 'test')).get('1.weight')!;
    expect(weight.shape).toEqual([5, 24]);
    for (let o = 0; o < 5; o++)
      for (let c = 0; c < 4; c++)
        for (let h = 0; h < 2; h++)
          for (let w = 0; w < 3; w++) expect(weight.values[o * 24 + (c * 2 + h) * 3 + w]).toBe(kernel.values[((h * 3 + w) * 4 + c) * 5 + o]);
  });

  test('dense after flatten of one channel or of [H, W]: only transposed', () => {
    for (const inputShape of [[4, 3, 1], [4, 3]]) {
      const ours = modelFile([flatten({ inputShape }), dense({ units: 2, activation: 'softmax' })], inputShape);
      const kernel = readModelFile(ours, 'test').weights[0];
      const weight = tensors(modelFileToTorch(ours, 'test')).get('1.weight')!;
      for (let o = 0; o < 2; o++) for (let i = 0; i < 12; i++) expect(weight.values[o * 12 + i]).toBe(kernel.values[i * 2 + o]);
    }
  });

  test('batch normalization: PyTorch names; after a flatten its vectors follow the NCHW order', () => {
    const [layers, inputShape] = EVERY_KIND;
    const ours = readModelFile(modelFile(layers, inputShape), 'test');
    const torch = tensors(modelFileToTorch(modelFile(layers, inputShape), 'test'));
    expect([...torch.keys()].filter((k) => k.startsWith('1.'))).toEqual(['1.weight', '1.bias', '1.running_mean', '1.running_var']);
    expect(torch.get('1.running_var')!.values).toEqual(ours.weights.find((w) => w.name === 'layers.1.moving_variance')!.values);
    // Layer 7 normalizes the flatten of a [H=3, W=1, C=3] image: PyTorch's value (c, h) is our (h, c).
    const mean = ours.weights.find((w) => w.name === 'layers.7.moving_mean')!.values;
    for (let c = 0; c < 3; c++) for (let h = 0; h < 3; h++) expect(torch.get('7.running_mean')!.values[c * 3 + h]).toBe(mean[h * 3 + c]);
  });
});

describe('round trip ours -> PyTorch -> ours', () => {
  const cases: [string, LayerConfig[], number[]][] = [
    ['every layer kind', ...EVERY_KIND],
    ['the tutorial CNN', [conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }), maxPooling2d(), conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }), maxPooling2d(), flatten(), dense({ units: 128, activation: 'relu' }), dense({ units: 10, activation: 'softmax' })], [28, 28, 1]],
    ['flatten of [3, 3, 5], batch norm, dense', [flatten({ inputShape: [3, 3, 5] }), batchNormalization(), dense({ units: 4, activation: 'softmax' })], [3, 3, 5]],
    [
      'batch norm without center and scale (PyTorch affine off)',
      [conv2d({ filters: 3, kernelSize: 2, inputShape: [4, 4, 2] }), batchNormalization({ center: false, scale: false }), flatten(), dense({ units: 4, activation: 'softmax' })],
      [4, 4, 2],
    ],
  ];
  test.each(cases)('%s: the same bytes', (_name, layers, inputShape) => {
    const ours = modelFile(layers, inputShape);
    const torch = modelFileToTorch(ours, 'ours');
    const back = modelFileFromTorch(torch, 'torch');
    // Compared by hand: toEqual walks 900 KB of bytes slowly.
    expect(back.length).toBe(ours.length);
    expect(back.findIndex((b, i) => b !== ours[i])).toBe(-1);
  });

  test('the export directory: weights, model.py, predict.py, train.py, README.md', async () => {
    const files = await torchFiles(modelFile(...EVERY_KIND));
    expect(files.map((f) => f.name)).toEqual(['model.safetensors', 'model.py', 'predict.py', 'train.py', 'README.md']);
    expect(new TextDecoder().decode(files[1].bytes)).toContain('def build(architecture, device=None)');
  });
});

describe('what PyTorch cannot hold, and files that are not an export, are refused by name', () => {
  test('batch normalization of a [28, 28] input (neither features nor an image)', () => {
    const ours = modelFile([batchNormalization({ inputShape: [28, 28] }), flatten(), dense({ units: 10, activation: 'softmax' })], [28, 28]);
    expect(() => modelFileToTorch(ours, 'm.safetensors')).toThrow(
      "layer 0 (batchNormalization): cannot export to PyTorch: its input [28, 28] is neither [features] nor [height, width, channels], and PyTorch's BatchNorm normalizes over dimension 1",
    );
  });

  test('batch normalization with one of center and scale off (PyTorch has both or neither)', () => {
    const ours = modelFile([batchNormalization({ scale: false, inputShape: [6] }), dense({ units: 3, activation: 'softmax' })], [6]);
    expect(() => modelFileToTorch(ours, 'm.safetensors')).toThrow(
      "layer 0 (batchNormalization): cannot export to PyTorch: center and scale must be both on or both off, as PyTorch's BatchNorm has its weight and bias together (affine)",
    );
  });

  test('an unknown layer type in the architecture', () => {
    const architecture = JSON.stringify({ inputShape: [4], layers: [{ type: 'lstm', units: 3 }] });
    const bytes = encodeSafetensors([], { format: 'pt', architecture });
    expect(() => modelFileFromTorch(bytes, 'x.safetensors')).toThrow("x.safetensors: layer 0 (lstm): unknown layer type 'lstm'");
  });

  const torch = () => tensors(modelFileToTorch(modelFile(...EVERY_KIND), 'ours'));
  const metadata = { format: 'pt', architecture: JSON.stringify({ inputShape: EVERY_KIND[1], layers: EVERY_KIND[0] }) };

  test('a missing tensor, named with its layer', () => {
    const weights = [...torch().values()].filter((w) => w.name !== '9.weight');
    expect(() => modelFileFromTorch(encodeSafetensors(weights, metadata), 't.safetensors')).toThrow('t.safetensors: no tensor 9.weight, the [5, 9] weight of layer 9 (dense)');
  });

  test('a tensor of the wrong shape (our layout, not PyTorch\'s)', () => {
    const weights = [...torch().values()].map((w) => (w.name === '3.weight' ? { ...w, shape: [2, 2, 4, 3] } : w));
    expect(() => modelFileFromTorch(encodeSafetensors(weights, metadata), 't.safetensors')).toThrow(
      't.safetensors: 3.weight has shape [2, 2, 4, 3] but layer 3 (conv2d) expects [3, 4, 2, 2]',
    );
  });

  test('an extra tensor', () => {
    const weights = [...torch().values(), { name: '4.weight', shape: [1], values: new Float32Array(1) }];
    expect(() => modelFileFromTorch(encodeSafetensors(weights, metadata), 't.safetensors')).toThrow('t.safetensors: the model has no parameter named 4.weight');
  });

  test('a 224-byte file declaring 600,000 units (or 2e7, or 100,000) is refused in milliseconds, before any layout is built', () => {
    const declaring = (units: number) =>
      encodeSafetensors([], { format: 'pt', architecture: JSON.stringify({ inputShape: [784], layers: [dense({ units, activation: 'softmax' })] }) });
    const started = performance.now();
    expect(declaring(600_000).length).toBeLessThan(250);
    expect(() => modelFileFromTorch(declaring(600_000), 'p.safetensors')).toThrow(/^p\.safetensors: the model needs 7\.\d\d GiB at batch 32: /);
    expect(() => modelFileFromTorch(declaring(2e7), 'p.safetensors')).toThrow(/^p\.safetensors: the model needs 238\.\d\d GiB at batch 32: /);
    // Within the memory a model may take, but not within what the file holds: no permutation of 78 million entries is built.
    expect(() => modelFileFromTorch(declaring(100_000), 'p.safetensors')).toThrow('p.safetensors: layer 0 (dense) has 78,500,000 parameters, more than the 0 values the file holds');
    expect(performance.now() - started).toBeLessThan(200);
  });

  test('our own model file, or a state dict without an architecture', () => {
    expect(() => modelFileFromTorch(modelFile(...EVERY_KIND), 'm.safetensors')).toThrow('m.safetensors: is a webgpu-train model file already, not a PyTorch export');
    expect(() => modelFileFromTorch(encodeSafetensors([...torch().values()], { format: 'pt' }), 's.safetensors')).toThrow(
      's.safetensors: not a PyTorch export: no architecture in its metadata',
    );
  });
});
