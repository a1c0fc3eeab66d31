// Model files checked whole before anything is built: each malformed header,
// architecture and weight set with the error it must give, all refused
// without touching the GPU; and the layer config checks sequential() shares.
import { describe, expect, test } from 'vitest';
import type { Gpu } from '../src/engine/device';
import { activation, conv2d, dense, flatten, globalAveragePooling2d, globalMaxPooling2d, layerShapes, maxPooling2d, rescaling, reshape, type LayerConfig } from '../src/engine/layers';
import { MEMORY_CEILING, memoryNeed } from '../src/engine/memoryBudget';
import { loadModelBytes, sequential } from '../src/engine/model';
import { encodeModelFile, MODEL_FORMAT, readModelFile } from '../src/engine/modelFile';
import { decodeSafetensors } from '../src/engine/safetensors';

/** A safetensors file with this header (JSON, or text as it is) and data. */
function safetensors(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.length);
  return bytes;
}

/** A model file with this architecture (an object, or text as it is) and these tensor entries. */
function modelFile(architecture: unknown, tensors: Record<string, unknown> = {}, data?: Uint8Array): Uint8Array {
  const text = typeof architecture === 'string' ? architecture : JSON.stringify(architecture);
  return safetensors({ __metadata__: { format: MODEL_FORMAT, architecture: text }, ...tensors }, data);
}

// Any use of this device fails the test with its own message: a file must be refused before the GPU.
const noGpu = new Proxy({} as Gpu, {
  get: () => {
    throw new Error('the GPU was touched before the file was refused');
  },
});

/** The error loading `bytes` gives; it must be a plain Error, not a TypeError or RangeError from deep inside. */
async function refusal(bytes: Uint8Array, source = 'm.safetensors'): Promise<Error> {
  const error = await loadModelBytes(bytes, { source, gpu: noGpu }).then(
    () => new Error('loaded'),
    (e: unknown) => e as Error,
  );
  expect(error).toBeInstanceOf(Error);
  expect(error.constructor).toBe(Error);
  return error;
}

const tiny = { inputShape: [2], layers: [dense({ units: 3, activation: 'softmax' })] };
const f32 = (shape: number[], begin: number) => ({ dtype: 'F32', shape, data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)] });
const tinyTensors = { 'layers.0.kernel': f32([2, 3], 0), 'layers.0.bias': f32([3], 24) };

describe('model file', () => {
  test('a 250-byte file claiming units: 2e7 is refused in milliseconds, before the GPU', async () => {
    const bytes = modelFile({
      inputShape: [784],
      layers: [dense({ units: 2e7, activation: 'relu' }), dense({ units: 10, activation: 'softmax' })],
    });
    expect(bytes.length).toBeLessThan(260);
    const started = performance.now();
    const error = await refusal(bytes, 'huge.safetensors');
    expect(error.message).toBe(
      'huge.safetensors: the model needs 241.70 GiB at batch 32: 4.77 GiB for its 2 layers\' outputs and their gradients, ' +
        '236.93 GiB for its 15,900,000,010 parameters with their gradients and optimizer state; more than the 2.00 GiB a model read from a file may take',
    );
    expect(performance.now() - started).toBeLessThan(200);
  });

  test('the header: null, not an object, a null or malformed tensor entry', async () => {
    expect((await refusal(safetensors('null'))).message).toBe('m.safetensors: not a model file: the header is null, not a JSON object');
    expect((await refusal(safetensors('[1, 2]'))).message).toBe('m.safetensors: not a model file: the header is [1,2], not a JSON object');
    expect((await refusal(safetensors('"text"'))).message).toBe('m.safetensors: not a model file: the header is "text", not a JSON object');
    expect((await refusal(safetensors('{"a": '))).message).toMatch(/^m\.safetensors: not a model file: the header is not JSON \(/);
    expect((await refusal(modelFile(tiny, { 'layers.0.kernel': null }))).message).toBe(
      'm.safetensors: not a model file: tensor layers.0.kernel is null, not an object with dtype, shape and data_offsets',
    );
    expect((await refusal(modelFile(tiny, { w: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2)))).message).toBe(
      'm.safetensors: not a model file: tensor w has dtype "F16", only "F32" is supported',
    );
    expect((await refusal(modelFile(tiny, { w: { dtype: 'F32', data_offsets: [0, 4] } }, new Uint8Array(4)))).message).toBe(
      'm.safetensors: not a model file: tensor w has shape missing, not a list of non-negative integers',
    );
    expect((await refusal(modelFile(tiny, { w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)))).message).toBe(
      'm.safetensors: not a model file: tensor w has data_offsets [0], not two non-negative integers',
    );
    expect((await refusal(safetensors({ __metadata__: null }))).message).toBe('m.safetensors: not a model file: __metadata__ is null, not an object of strings');
    expect((await refusal(safetensors({ __metadata__: { format: 1 } }))).message).toBe('m.safetensors: not a model file: __metadata__.format is 1, not a string');
  });

  test('JSON nested deeper than it can be printed back', async () => {
    // JSON.stringify fails on it where the stack is small ('[...]'), and prints its first brackets where it is not.
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect((await refusal(safetensors(`{"x": ${deep}}`))).message).toMatch(
      /^m\.safetensors: not a model file: tensor x is \[+\.\.\.\]?, not an object with dtype, shape and data_offsets$/,
    );
    const architecture = `{"inputShape": [2], "layers": [{"type": "dense", "activation": "softmax", "units": ${deep}}]}`;
    expect((await refusal(modelFile(architecture))).message).toMatch(/^m\.safetensors: layer 0 \(dense\): units must be a positive integer, got \[+\.\.\.\]?$/);
  });

  test('a fractional or negative shape', async () => {
    expect((await refusal(modelFile(tiny, { w: { dtype: 'F32', shape: [1.5, 2], data_offsets: [0, 12] } }, new Uint8Array(12)))).message).toBe(
      'm.safetensors: not a model file: tensor w has shape [1.5,2], not a list of non-negative integers',
    );
    expect((await refusal(modelFile(tiny, { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }))).message).toBe(
      'm.safetensors: not a model file: tensor w has shape [-1], not a list of non-negative integers',
    );
  });

  test('offsets out of range, of the wrong size, overlapping, leaving a gap or trailing bytes', async () => {
    const refused = async (tensors: Record<string, unknown>, bytes: number) => (await refusal(modelFile(tiny, tensors, new Uint8Array(bytes)))).message;
    expect(await refused({ w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 8)).toBe(
      'm.safetensors: not a model file: tensor w has data_offsets 4..12, outside the 8 data bytes',
    );
    expect(await refused({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8)).toBe(
      'm.safetensors: not a model file: tensor w has data_offsets 8..0, outside the 8 data bytes',
    );
    expect(await refused({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8)).toBe(
      'm.safetensors: not a model file: tensor w [3] needs 12 bytes but its data_offsets 0..8 hold 8',
    );
    expect(await refused({ a: f32([2], 0), b: f32([2], 4) }, 12)).toBe(
      'm.safetensors: not a model file: tensor b starts at byte 4 of the data, but the tensors before it end at 8',
    );
    expect(await refused({ a: f32([1], 0), b: f32([1], 8) }, 12)).toBe(
      'm.safetensors: not a model file: tensor b starts at byte 8 of the data, but the tensors before it end at 4',
    );
    expect(await refused(tinyTensors, 40)).toBe('m.safetensors: not a model file: the tensors hold 36 bytes but 40 follow the header');
  });

  test('the architecture: not JSON, null layers, no inputShape or a negative one, a null layer, an unknown type', async () => {
    const refused = async (architecture: unknown) => (await refusal(modelFile(architecture, tinyTensors, new Uint8Array(36)))).message;
    expect(await refused('{"inputShape": [2], "layers": [')).toMatch(/^m\.safetensors: not a model file: its architecture is not JSON \(/);
    expect(await refused('null')).toBe('m.safetensors: not a model file: its architecture is null, not an object with inputShape and layers');
    expect(await refused({ inputShape: [2], layers: null })).toBe('m.safetensors: layers is null, not a list of at least one layer');
    expect(await refused({ inputShape: [2], layers: [] })).toBe('m.safetensors: layers is [], not a list of at least one layer');
    expect(await refused({ layers: tiny.layers })).toBe('m.safetensors: inputShape is missing, not a list of positive integers');
    expect(await refused({ inputShape: [-4], layers: tiny.layers })).toBe('m.safetensors: inputShape is [-4], not a list of positive integers');
    expect(await refused({ inputShape: [2.5], layers: tiny.layers })).toBe('m.safetensors: inputShape is [2.5], not a list of positive integers');
    expect(await refused({ inputShape: [2], layers: [...tiny.layers, null] })).toBe('m.safetensors: layer 1 is null, not an object with a type');
    expect(await refused({ inputShape: [2], layers: [{ type: 'lstm' }] })).toMatch(/^m\.safetensors: layer 0 \(lstm\): unknown layer type 'lstm' \(known: /);
    const noFormat = safetensors({ __metadata__: { architecture: '{}' } });
    expect((await refusal(noFormat)).message).toBe(`m.safetensors: not a model file: its metadata has no format, expected '${MODEL_FORMAT}'`);
    expect((await refusal(safetensors({ __metadata__: { format: MODEL_FORMAT } }))).message).toBe('m.safetensors: not a model file: no architecture in its metadata');
  });

  test('a hidden dense layer with no activation is refused at load, not at predict', async () => {
    const architecture = { inputShape: [2], layers: [{ type: 'dense', units: 2 }, dense({ units: 3, activation: 'softmax' })] };
    expect((await refusal(modelFile(architecture))).message).toBe(
      'm.safetensors: layer 0 (dense): activation is missing (use relu, sigmoid, tanh, elu, selu, softplus, leaky_relu, gelu, softmax, linear)',
    );
  });

  test('weights that do not match the architecture: missing, of another shape, or extra', async () => {
    const data = new Uint8Array(36);
    expect((await refusal(modelFile(tiny, { 'layers.0.kernel': f32([2, 3], 0) }, data.subarray(0, 24)))).message).toBe(
      'm.safetensors: no values for layers.0.bias, the [3] bias of layer 0 (dense)',
    );
    expect((await refusal(modelFile(tiny, { 'layers.0.kernel': f32([3, 2], 0), 'layers.0.bias': f32([3], 24) }, data))).message).toBe(
      'm.safetensors: layers.0.kernel has shape [3, 2] but layer 0 (dense) expects [2, 3]',
    );
    expect((await refusal(modelFile(tiny, { ...tinyTensors, 'layers.1.kernel': f32([1], 36) }, new Uint8Array(40)))).message).toBe(
      'm.safetensors: the model has no parameter named layers.1.kernel',
    );
  });

  test('setWeights checks names, shapes and value counts before it builds anything', async () => {
    const model = sequential([flatten({ inputShape: [2] }), dense({ units: 3, activation: 'softmax' })]);
    model.compile({ gpu: noGpu });
    const kernel = { name: 'layers.1.kernel', shape: [2, 3], values: new Float32Array(6) };
    const bias = { name: 'layers.1.bias', shape: [3], values: new Float32Array(3) };
    await expect(model.setWeights([{ ...kernel, values: new Float32Array(5) }, bias])).rejects.toThrow(
      'setWeights(): layers.1.kernel holds 5 values but its shape [2, 3] needs 6',
    );
    await expect(model.setWeights([kernel])).rejects.toThrow('setWeights(): no values for layers.1.bias, the [3] bias of layer 1 (dense)');
    const extra = Array.from({ length: 7 }, (_, i) => ({ name: `x${i}`, shape: [1], values: new Float32Array(1) }));
    await expect(model.setWeights([kernel, bias, ...extra])).rejects.toThrow('setWeights(): the model has no parameter named x0, x1, x2, x3, x4 and 2 more');
  });

  test('a valid file is read whole without a GPU, from an unaligned view too', () => {
    const weights = [
      { name: 'layers.1.kernel', shape: [4, 3], values: Float32Array.from({ length: 12 }, (_, i) => i / 7) },
      { name: 'layers.1.bias', shape: [3], values: Float32Array.of(-1, 0.5, 2) },
    ];
    const layers: LayerConfig[] = [flatten({ inputShape: [2, 2] }), dense({ units: 3, activation: 'softmax' })];
    const bytes = encodeModelFile({ inputShape: [2, 2], layers }, weights);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    for (const view of [bytes, shifted.subarray(1)]) {
      const file = readModelFile(view, 'ok.safetensors');
      expect(file.inputShape).toEqual([2, 2]);
      expect(file.layers).toEqual(layers);
      expect(file.shapes.map((s) => s.output)).toEqual([[4], [3]]);
      expect(file.weights.map((w) => [w.name, w.shape, [...w.values]])).toEqual(weights.map((w) => [w.name, w.shape, [...w.values]]));
    }
    expect(decodeSafetensors(bytes, 'ok').metadata.format).toBe(MODEL_FORMAT);
  });
});

/**
 * A valid model file of a few kilobytes: a 1x1 convolution to 334 channels, `pools`
 * 1x1 max-poolings of its [28, 28, 334] output, then one pooling to [1, 1, 334] and a dense softmax.
 */
function widePools(pools: number): Uint8Array {
  const layers: LayerConfig[] = [
    conv2d({ filters: 334, kernelSize: 1, activation: 'relu', inputShape: [28, 28, 1] }),
    ...Array.from({ length: pools }, () => maxPooling2d({ poolSize: 1 })),
    maxPooling2d({ poolSize: 28 }),
    flatten(),
    dense({ units: 10, activation: 'softmax' }),
  ];
  const weight = (name: string, shape: number[]) => ({ name, shape, values: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  const last = layers.length - 1;
  return encodeModelFile({ inputShape: [28, 28, 1], layers }, [
    weight('layers.0.kernel', [1, 1, 1, 334]),
    weight('layers.0.bias', [334]),
    weight(`layers.${last}.kernel`, [334, 10]),
    weight(`layers.${last}.bias`, [10]),
  ]);
}

describe('what a file may not do: ask for gigabytes, hide damage, print what it likes', () => {
  test('a 17 KB file whose layers need 2.25 GiB at batch 128 is refused with the figure; at batch 32 it loads', async () => {
    const bytes = widePools(8);
    expect(bytes.length).toBeLessThan(18_000);
    const started = performance.now();
    expect(() => readModelFile(bytes, 'wide.safetensors', { batch: 128 })).toThrow(
      'wide.safetensors: the model needs 2.25 GiB at batch 128: 2.25 GiB for its 12 layers\' outputs and their gradients, ' +
        '0.1 MiB for its 4,018 parameters with their gradients and optimizer state; more than the 2.00 GiB a model read from a file may take',
    );
    expect(performance.now() - started).toBeLessThan(200);
    expect(readModelFile(bytes, 'wide.safetensors').layers).toHaveLength(12);
    // 1,004 layers: refused at the default batch too, before anything is built.
    expect((await refusal(widePools(1000), 'deep.safetensors')).message).toMatch(/^deep\.safetensors: the model needs 62\.\d\d GiB at batch 32: /);
  });

  test('the tutorial CNN fits at batch 128 with room to spare', () => {
    const layers: LayerConfig[] = [conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }), flatten(), dense({ units: 10, activation: 'softmax' })];
    const need = memoryNeed([28, 28, 1], layerShapes(layers, [28, 28, 1]), { batch: 128 });
    expect(need.total).toBeLessThan(MEMORY_CEILING / 20);
  });

  test('a flipped bit anywhere is found by the checksum; a file without one (older, or PyTorch\'s) still loads', () => {
    const weights = [
      { name: 'layers.0.kernel', shape: [2, 3], values: Float32Array.from({ length: 6 }, (_, i) => i) },
      { name: 'layers.0.bias', shape: [3], values: Float32Array.of(1, 2, 3) },
    ];
    const bytes = encodeModelFile(tiny, weights);
    expect(new TextDecoder().decode(bytes.subarray(8, 60))).toMatch(/^\{"__metadata__":\{"checksum":"crc32:[0-9a-f]{8}"/);
    expect(readModelFile(bytes, 'ok.safetensors').weights[0].values[5]).toBe(5);
    // A bit of a weight, and one of the architecture's text ('3' to '1' in the units): both would load as another model.
    const inWeight = bytes.slice();
    inWeight[bytes.length - 1] ^= 0x01;
    expect(() => readModelFile(inWeight, 'bit.safetensors')).toThrow(/^bit\.safetensors: damaged: its CRC-32 is [0-9a-f]{8}, but it was written with [0-9a-f]{8}$/);
    const header = new TextDecoder().decode(bytes);
    const inHeader = bytes.slice();
    inHeader[header.indexOf('units\\":3') + 8] ^= 0x02;
    expect(() => readModelFile(inHeader, 'bit.safetensors')).toThrow(/^bit\.safetensors: damaged: /);
    // The same file as written before checksums: it loads, with the same weights.
    const old = modelFile(tiny, tinyTensors, new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5, 1, 2, 3]).buffer));
    expect(readModelFile(old, 'old.safetensors').weights.map((w) => [...w.values])).toEqual(weights.map((w) => [...w.values]));
  });

  test('names are printed escaped and cut short; integers past 2^53 are not printed as if exact', () => {
    const hostile = `\x1b[2J\x1b]0;owned\x07${'A'.repeat(200_000)}`;
    const message = (() => {
      try {
        readModelFile(modelFile(tiny, { ...tinyTensors, [hostile]: f32([1], 36) }, new Uint8Array(40)), 'm.safetensors');
      } catch (error) {
        return (error as Error).message;
      }
      return 'loaded';
    })();
    expect(message).toBe(`m.safetensors: the model has no parameter named \\x1b[2J\\x1b]0;owned\\x07${'A'.repeat(54)}... (200,014 characters)`);
    expect(message).not.toMatch(/[\u0000-\u001f]/);
    const claims = new Uint8Array(16).fill(0xff);
    expect(() => decodeSafetensors(claims, 'm.safetensors')).toThrow('m.safetensors: not a model file: the header claims 18446744073709551615 bytes but the file holds 8 after its length');
    expect(() => readModelFile(modelFile({ inputShape: [2 ** 64], layers: tiny.layers }), 'm.safetensors')).toThrow(
      'm.safetensors: inputShape is [18446744073709552000], not a list of positive integers',
    );
  });
});

describe('layer configs', () => {
  // The checks each layer kind's shape() runs: the same for sequential() and a file's architecture.
  const refused = (layers: LayerConfig[]) => {
    try {
      sequential(layers);
    } catch (error) {
      expect((error as Error).constructor).toBe(Error);
      return (error as Error).message;
    }
    return 'accepted';
  };
  const flat = flatten({ inputShape: [4] });
  const image = { inputShape: [8, 8, 1] };

  test('dense: units and activation', () => {
    expect(refused([flat, dense({ units: 2.5 })])).toBe('layer 1 (dense): units must be a positive integer, got 2.5');
    expect(refused([flat, dense({ units: 0 })])).toBe('layer 1 (dense): units must be a positive integer, got 0');
    expect(refused([flat, { type: 'dense', activation: 'relu' } as LayerConfig])).toBe('layer 1 (dense): units is missing');
    expect(refused([flat, { type: 'dense', units: '4', activation: 'relu' } as unknown as LayerConfig])).toBe('layer 1 (dense): units must be a positive integer, got "4"');
    expect(refused([flat, dense({ units: 2, activation: 'swish' as 'relu' })])).toBe(
      'layer 1 (dense): unknown activation "swish" (use relu, sigmoid, tanh, elu, selu, softplus, leaky_relu, gelu, softmax, linear)',
    );
    expect(refused([flat, { ...dense({ units: 2 }), useBias: 'no' } as unknown as LayerConfig])).toBe('layer 1 (dense): useBias must be true or false, got "no"');
  });

  test('activation: its name, and a slope for leaky_relu only', () => {
    expect(refused([flat, activation({ activation: 'leaky_relu', negativeSlope: 0.1 })])).toBe('accepted');
    expect(refused([flat, activation({ activation: 'leaky_relu', negativeSlope: -1 })])).toBe(
      'layer 1 (activation): leaky_relu(): negativeSlope must be a finite number >= 0, got -1',
    );
    expect(refused([flat, activation({ activation: 'relu', negativeSlope: 0.1 })])).toBe('layer 1 (activation): negativeSlope applies to leaky_relu only, not to relu');
    expect(refused([flat, { type: 'activation' } as LayerConfig])).toBe('layer 1 (activation): activation is missing (use relu, sigmoid, tanh, elu, selu, softplus, leaky_relu, gelu, softmax, linear)');
  });

  test('rescaling: a finite scale and offset', () => {
    expect(refused([rescaling({ scale: 1 / 255, inputShape: [4] })])).toBe('accepted');
    expect(refused([{ type: 'rescaling', scale: [1, 2], offset: 0, inputShape: [4] } as unknown as LayerConfig])).toBe(
      'layer 0 (rescaling): rescaling(): scale must be a finite number, got [1,2]',
    );
  });

  test('reshape: a target of as many values, one size open at most', () => {
    const square = { inputShape: [6, 6] };
    expect(refused([reshape({ targetShape: [6, 6, 1], ...square })])).toBe('accepted');
    expect(refused([reshape({ targetShape: [-1, 3], ...square })])).toBe('accepted');
    expect(refused([reshape({ targetShape: [5, 7], ...square })])).toBe('layer 0 (reshape): targetShape [5,7] does not hold the 36 values of the [6, 6] input');
    expect(refused([reshape({ targetShape: [-1, 5], ...square })])).toBe('layer 0 (reshape): targetShape [-1,5] does not hold the 36 values of the [6, 6] input');
    expect(refused([reshape({ targetShape: [-1, -1], ...square })])).toBe('layer 0 (reshape): targetShape [-1,-1] may leave one size open (-1), not several');
    expect(refused([reshape({ targetShape: [0, 36], ...square })])).toBe('layer 0 (reshape): targetShape [0,36] must hold positive integers, and -1 for one size');
    expect(refused([{ type: 'reshape', ...square } as LayerConfig])).toBe('layer 0 (reshape): targetShape missing must be a list of sizes');
  });

  test('global pooling: an image, keepdims a boolean', () => {
    expect(refused([globalAveragePooling2d({ keepdims: true, ...image })])).toBe('accepted');
    expect(refused([globalMaxPooling2d({ inputShape: [4] })])).toBe('layer 0 (globalMaxPooling2d): expects an [height, width, channels] input, got [4]');
    expect(refused([{ type: 'globalAveragePooling2d', keepdims: 1, ...image } as unknown as LayerConfig])).toBe('layer 0 (globalAveragePooling2d): keepdims must be true or false, got 1');
  });

  test('conv2d: filters, kernelSize, strides, padding', () => {
    const base = conv2d({ filters: 2, kernelSize: 3, ...image });
    expect(refused([base])).toBe('accepted');
    expect(refused([{ ...base, filters: -2 }])).toBe('layer 0 (conv2d): filters must be a positive integer, got -2');
    expect(refused([{ ...base, kernelSize: [3] as unknown as [number, number] }])).toBe('layer 0 (conv2d): kernelSize must be two positive integers, got [3]');
    expect(refused([{ ...base, kernelSize: undefined } as unknown as LayerConfig])).toBe('layer 0 (conv2d): kernelSize is missing');
    expect(refused([{ ...base, strides: [1, 0] }])).toBe('layer 0 (conv2d): strides must be two positive integers, got [1,0]');
    expect(refused([{ ...base, strides: undefined } as unknown as LayerConfig])).toBe('layer 0 (conv2d): strides is missing');
    expect(refused([{ ...base, padding: 'full' as 'same' }])).toBe('layer 0 (conv2d): unknown padding "full" (use valid, same)');
  });

  test('maxPooling2d: poolSize and strides', () => {
    const base = maxPooling2d({ poolSize: 2, ...image });
    expect(refused([base])).toBe('accepted');
    expect(refused([{ ...base, poolSize: 'big' as unknown as [number, number] }])).toBe('layer 0 (maxPooling2d): poolSize must be two positive integers, got "big"');
    expect(refused([{ ...base, strides: undefined } as unknown as LayerConfig])).toBe('layer 0 (maxPooling2d): strides is missing');
  });
});
