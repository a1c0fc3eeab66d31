// The Keras-like API end to end: summary, training on a slice of MNIST,
// reproducibility, steady GPU memory, saving and loading, and bad input.
import { describe, expect, test } from 'vitest';
import { loadModelBytes, type FitOptions, type Logs, type Model } from '../src/engine/model';
import { dense, flatten } from '../src/engine/layers';
import { sequential } from '../src/engine/model';
import { tutorialModel, type TutorialModel } from '../src/engine/tutorial';
import { testMnist } from './mnist';
import { expectClose, F32, seededRandom, testGpu } from './helpers';
import { Graph } from '../src/engine/graph';
import { runPass } from '../src/engine/training/pass';
import { pixelValues } from '../src/engine/data';
import { optimizerConfig } from '../src/engine/ops/optimizer';

const TRAIN = 2000;
const TEST = 1000;

async function slices() {
  const mnist = await testMnist();
  return {
    x: mnist.train.images.subarray(0, TRAIN * 784),
    y: mnist.train.labels.subarray(0, TRAIN),
    xTest: mnist.test.images.subarray(0, TEST * 784),
    yTest: mnist.test.labels.subarray(0, TEST),
  };
}

async function compiled(kind: TutorialModel, seed: number): Promise<Model> {
  const model = tutorialModel(kind);
  model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed, gpu: await testGpu() });
  return model;
}

describe('model', () => {
  test('summary counts the tutorial models parameters', () => {
    expect(tutorialModel('cnn').paramCount).toBe(225_034);
    expect(tutorialModel('mlp').paramCount).toBe(101_770);
    expect(tutorialModel('cnn').summary()).toContain('Total params: 225,034');
    expect(tutorialModel('mlp').summary()).toMatch(/dense_1 \(dense\)\s+\(None, 128\)\s+100,480/);
  });

  // Minimum test accuracies after one epoch on 2,000 images, well under what
  // the runs reach (mlp 0.725, cnn 0.613 with seed 7 on lavapipe) so that a device's rounding cannot fail them.
  const minimum: Record<'mlp' | 'cnn', number> = { mlp: 0.65, cnn: 0.5 };

  for (const kind of ['mlp', 'cnn'] as const) {
    test(`${kind}: one epoch on ${TRAIN} images learns`, { timeout: 600_000 }, async () => {
      const { x, y, xTest, yTest } = await slices();
      const model = await compiled(kind, 7);
      const updates: number[] = [];
      const history = await model.fit(x, y, { epochs: 1, batchSize: 128, callbacks: { onTrainBatchEnd: (_step, logs) => void updates.push(logs.loss) } });
      const [epoch] = history.epochs;
      const evaluation = await model.evaluate(xTest, yTest, { batchSize: 128 });
      console.info(`${kind}: train loss ${epoch.logs.loss.toFixed(4)} accuracy ${epoch.logs.accuracy.toFixed(4)}; test loss ${evaluation.loss.toFixed(4)} accuracy ${evaluation.accuracy.toFixed(4)}; ${epoch.msPerStep.toFixed(0)} ms/step`);
      expect(evaluation.accuracy).toBeGreaterThan(minimum[kind]);
      // The running mean of the loss falls as the epoch goes on.
      expect(updates[updates.length - 1]).toBeLessThan(updates[0]);
      expect(epoch.steps).toBe(Math.ceil(TRAIN / 128));
      model.destroy();
    });

    test(`${kind}: the same seed gives the same losses`, { timeout: 300_000 }, async () => {
      const { x, y } = await slices();
      // Two steps, the second one partial, with shuffling: enough to differ if
      // anything is not deterministic, and short enough for the CNN on SwiftShader.
      const run = async (seed: number) => {
        const model = await compiled(kind, seed);
        const [loss] = (await model.fit(x.subarray(0, 150 * 784), y.subarray(0, 150), { epochs: 1, batchSize: 128 })).history.loss;
        model.destroy();
        return loss;
      };
      const first = await run(11);
      expect(await run(11)).toBe(first);
      expect(await run(12)).not.toBe(first);
    });
  }

  test("the epoch's Keras-printed figures are the mean of the running means, the last counted twice", async () => {
    const { x, y } = await slices();
    const model = await compiled('mlp', 5);
    const running: { logs: Logs; printed?: Logs }[] = [];
    // updateEvery 1: every step's running means come back, to recompute Keras' figure on the CPU.
    const history = await model.fit(x.subarray(0, 700 * 784), y.subarray(0, 700), {
      batchSize: 128,
      updateEvery: 1,
      callbacks: { onTrainBatchEnd: (_step, logs, { printed }) => void running.push({ logs, printed }) },
    });
    const [epoch] = history.epochs;
    expect(running).toHaveLength(6);
    const printed = (values: number[]) => (values.reduce((a, b) => a + b, 0) + values[values.length - 1]) / (values.length + 1);
    expect(epoch.printed.loss).toBeCloseTo(printed(running.map((r) => r.logs.loss)), 5);
    expect(epoch.printed.accuracy).toBeCloseTo(printed(running.map((r) => r.logs.accuracy)), 5);
    // Each update carries the figure so far.
    expect(running[2].printed!.loss).toBeCloseTo(printed(running.slice(0, 3).map((r) => r.logs.loss)), 5);
    expect(epoch.printed.loss).not.toBeCloseTo(epoch.logs.loss, 3);
    model.destroy();
  });

  test('the steps between two progress updates go to the GPU in one command buffer, a checkpoint ends one too, and the losses do not change', async () => {
    const { x, y } = await slices();
    const gpu = await testGpu();
    const encoders: string[] = [];
    const createCommandEncoder = gpu.device.createCommandEncoder;
    gpu.device.createCommandEncoder = function (descriptor?: GPUCommandEncoderDescriptor) {
      if (descriptor?.label?.startsWith('train')) encoders.push(descriptor.label);
      return createCommandEncoder.call(this, descriptor);
    };
    // 7 steps of 100 rows.
    const fit = async (options: FitOptions) => {
      encoders.length = 0;
      const model = await compiled('mlp', 6);
      const { history } = await model.fit(x.subarray(0, 700 * 784), y.subarray(0, 700), { batchSize: 100, ...options });
      model.destroy();
      return { encoders: [...encoders], loss: history.loss[0], accuracy: history.accuracy[0] };
    };
    try {
      const chunked = await fit({ updateEvery: 3 });
      expect(chunked.encoders).toEqual(['train steps 1-3', 'train steps 4-6', 'train steps 7-7']);
      const checkpointed = await fit({ updateEvery: 3, checkpoint: { everySteps: 2, write: async () => {} } });
      expect(checkpointed.encoders).toEqual(['train steps 1-2', 'train steps 3-3', 'train steps 4-4', 'train steps 5-6', 'train steps 7-7']);
      const single = await fit({ updateEvery: 1 });
      expect(single.encoders).toHaveLength(7);
      for (const run of [checkpointed, single]) expect([run.loss, run.accuracy]).toEqual([chunked.loss, chunked.accuracy]);
    } finally {
      gpu.device.createCommandEncoder = createCommandEncoder;
    }
  });

  test('stopTraining ends fit after the steps already submitted; a promise from onTrainBatchEnd pauses it', async () => {
    const { x, y } = await slices();
    const model = await compiled('mlp', 5);
    let resume!: () => void;
    const steps: number[] = [];
    const history = await model.fit(x.subarray(0, 1000 * 784), y.subarray(0, 1000), {
      epochs: 3,
      batchSize: 100,
      updateEvery: 1,
      callbacks: {
        onTrainBatchEnd: (step) => {
          steps.push(step);
          if (step === 1) {
            // Paused: nothing more runs until the promise settles.
            setTimeout(() => {
              expect(steps).toEqual([0, 1]);
              resume();
            }, 50);
            return new Promise<void>((resolve) => (resume = resolve));
          }
          if (step === 3) model.stopTraining = true;
        },
      },
    });
    expect(history.epoch).toEqual([0]);
    expect(history.stopped).toEqual({ epoch: 0, reason: 'stopTraining' });
    // Step 3's figures are read while up to three more steps run ahead (the readbacks in flight).
    expect(history.epochs[0].steps).toBeGreaterThanOrEqual(4);
    expect(history.epochs[0].steps).toBeLessThanOrEqual(7);
    expect(steps.slice(0, 4)).toEqual([0, 1, 2, 3]);
    model.destroy();
  });

  test("layerOutputs gives each layer's output: the hidden layer as the CPU computes it, the last as predict", async () => {
    const { xTest } = await slices();
    const model = await compiled('mlp', 2);
    const x = xTest.subarray(0, 3 * 784);
    const outputs = await model.layerOutputs(x);
    expect(outputs.map((o) => [o.name, o.shape])).toEqual([
      ['layer 0 (flatten)', [784]],
      ['layer 1 (dense)', [128]],
      ['layer 2 (dense)', [10]],
    ]);
    expect([...outputs[0].values]).toEqual([...x]);
    const [kernel, bias] = await model.getWeights();
    const hidden = Array.from({ length: 3 * 128 }, (_, k) => {
      const [n, j] = [Math.floor(k / 128), k % 128];
      let sum = bias.values[j];
      for (let i = 0; i < 784; i++) sum += x[n * 784 + i] * kernel.values[i * 128 + j];
      return Math.max(sum, 0);
    });
    expectClose('layer 1 output', outputs[1].values, hidden, F32);
    expect([...outputs[2].values]).toEqual([...(await model.predict(x))]);
    model.destroy();
  });

  test('profile times every kernel of a training step without training the model', async () => {
    const { x, y, xTest } = await slices();
    const gpu = await testGpu();
    const model = await compiled('mlp', 2);
    const before = await model.predict(xTest.subarray(0, 784));
    if (!gpu.timestamps) {
      await expect(model.profile(x, y)).rejects.toThrow("profile(): this adapter has no 'timestamp-query' feature");
      return;
    }
    const { kernels } = await model.profile(x.subarray(0, 64 * 784), y.subarray(0, 64), { batchSize: 64, repeats: 2 });
    expect(new Set(kernels.map((k) => k.site))).toEqual(new Set(['layer 1 (dense)', 'layer 2 (dense)', 'loss', 'optimizer']));
    expect(kernels.map((k) => k.kernel)).toContain('matmul.wgsl:forward');
    for (const k of kernels) expect(k.ms.samples).toHaveLength(2);
    expect(kernels.every((k) => k.ms.median >= 0)).toBe(true);
    expect(kernels.find((k) => k.kernel === 'matmul.wgsl:forward')!.work!.flops).toBe(2 * 64 * 784 * 128);
    expect([...(await model.predict(xTest.subarray(0, 784)))]).toEqual([...before]);
    model.destroy();
  });

  test('no GPU buffer is created after the first epoch', async () => {
    const { x, y } = await slices();
    const gpu = await testGpu();
    const model = await compiled('mlp', 1);
    const created: number[] = [];
    const createBuffer = gpu.device.createBuffer;
    let count = 0;
    gpu.device.createBuffer = function (descriptor: GPUBufferDescriptor) {
      count++;
      return createBuffer.call(this, descriptor);
    };
    try {
      await model.fit(x.subarray(0, 500 * 784), y.subarray(0, 500), { epochs: 3, batchSize: 128, callbacks: { onEpochEnd: () => void created.push(count) } });
    } finally {
      gpu.device.createBuffer = createBuffer;
    }
    expect(created[1]).toBe(created[0]);
    expect(created[2]).toBe(created[0]);
    model.destroy();
  });

  test('pixel bytes train as their floats: the same losses, evaluation and predictions as x = byte / 255', async () => {
    const mnist = await testMnist();
    const bytes = mnist.train.pixels.subarray(0, 300 * 784);
    const y = mnist.train.labels.subarray(0, 300);
    const testBytes = mnist.test.pixels.subarray(0, 100 * 784);
    const yTest = mnist.test.labels.subarray(0, 100);
    const run = async (x: Uint8Array | Float32Array, xTest: Uint8Array | Float32Array) => {
      const model = await compiled('mlp', 4);
      // Two epochs of three steps, the last partial, with validation.
      const history = await model.fit(x, y, { epochs: 2, batchSize: 128, validationData: [xTest, yTest] });
      const result = {
        history: history.epochs.map(({ msPerStep: _, ...logs }) => logs),
        evaluation: await model.evaluate(xTest, yTest),
        predictions: [...(await model.predict(xTest.subarray(0, 5 * 784)))],
      };
      model.destroy();
      return result;
    };
    const floats = await run(pixelValues(bytes), pixelValues(testBytes));
    expect(await run(bytes, testBytes)).toEqual(floats);
  });

  test('the data goes to the GPU once: kept across epochs, fits and evaluations of the same arrays, replaced by others, freed with the model', async () => {
    const mnist = await testMnist();
    const gpu = await testGpu();
    const model = await compiled('mlp', 1);
    const live = new Set<GPUBuffer>();
    let uploads = 0;
    const createBuffer = gpu.device.createBuffer;
    gpu.device.createBuffer = function (descriptor: GPUBufferDescriptor) {
      const buffer = createBuffer.call(this, descriptor);
      if (descriptor.label?.startsWith('data set inputs')) {
        uploads++;
        live.add(buffer);
        const destroy = buffer.destroy;
        buffer.destroy = function () {
          live.delete(buffer);
          return destroy.call(this);
        };
      }
      return buffer;
    };
    const x = mnist.train.pixels.subarray(0, 300 * 784);
    const y = mnist.train.labels.subarray(0, 300);
    // Views of the same bytes taken again, as the page takes them for each call.
    const test = () => [mnist.test.pixels.subarray(0, 100 * 784), mnist.test.labels.subarray(0, 100)] as const;
    try {
      await model.fit(x, y, { epochs: 2, batchSize: 128, validationData: [...test()] });
      expect(uploads).toBe(2);
      await model.fit(x, y, { epochs: 1, batchSize: 128, validationData: [...test()] });
      await model.evaluate(...test());
      expect(uploads).toBe(2);
      // A third data set replaces the one used least recently (the training set).
      await model.evaluate(mnist.test.pixels.subarray(784, 51 * 784), mnist.test.labels.subarray(1, 51));
      expect([uploads, live.size]).toEqual([3, 2]);
      model.destroy();
      expect(live.size).toBe(0);
    } finally {
      gpu.device.createBuffer = createBuffer;
    }
  });

  test('a saved model predicts exactly what the original did', async () => {
    const { x, y, xTest } = await slices();
    const model = await compiled('mlp', 3);
    await model.fit(x.subarray(0, 256 * 784), y.subarray(0, 256), { epochs: 1, batchSize: 128 });
    const before = await model.predict(xTest.subarray(0, 10 * 784));
    const loaded = await loadModelBytes(await model.toBytes(), { gpu: await testGpu() });
    expect(loaded.summary()).toBe(model.summary());
    expect([...(await loaded.predict(xTest.subarray(0, 10 * 784)))]).toEqual([...before]);
    // Probabilities of each image sum to one.
    for (let i = 0; i < 10; i++) expect(before.subarray(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    model.destroy();
    loaded.destroy();
  });
});

describe('model errors', () => {
  /** The test device as one with smaller limits: only what the graph reads of them changes. */
  async function deviceWithLimits(limits: Partial<Record<'maxStorageBufferBindingSize' | 'maxBufferSize', number>>): Promise<GPUDevice> {
    const { device } = await testGpu();
    return new Proxy(device, {
      get: (target, key) => {
        if (key === 'limits') return new Proxy(target.limits, { get: (l, name) => (name in limits ? limits[name as keyof typeof limits] : Reflect.get(l, name)) });
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  test("a tensor over the device's limits is refused when the model is built, naming the layer, the size and the limit", async () => {
    const device = await deviceWithLimits({ maxStorageBufferBindingSize: 1 << 20 });
    const layers = [flatten({ inputShape: [28, 28] }), dense({ units: 512, activation: 'relu' }), dense({ units: 10, activation: 'softmax' })];
    // The total depends on the device's alignment padding between tensors.
    expect(() => new Graph(device, { layers, inputShape: [28, 28], maxBatchSize: 32, optimizer: optimizerConfig('sgd'), random: seededRandom(1) })).toThrow(
      /^the parameters of all layers take 1,6\d\d,\d\d\d bytes \(1\.6 MiB\), over this device's limit of 1,048,576 bytes \(1\.0 MiB\) for one buffer \(the largest is layer 1 \(dense\) kernel \[784, 512\], 1,605,632 bytes \(1\.5 MiB\)\)$/,
    );
    // Small parameters, but activations of 1000 rows x 512 floats: the layer's own buffer is named.
    const small = await deviceWithLimits({ maxStorageBufferBindingSize: 1 << 20 });
    const wide = [flatten({ inputShape: [4] }), dense({ units: 512, activation: 'relu' }), dense({ units: 2, activation: 'softmax' })];
    expect(() => new Graph(small, { layers: wide, inputShape: [4], maxBatchSize: 1000, optimizer: optimizerConfig('sgd'), random: seededRandom(1) })).toThrow(
      "layer 1 (dense) y [1000, 512] takes 2,048,000 bytes (2.0 MiB), over this device's maxStorageBufferBindingSize of 1,048,576 bytes (1.0 MiB)",
    );
  });

  test("a data set over the device's limits is refused when it is uploaded, naming its size and the limit; as bytes it fits", async () => {
    const device = await deviceWithLimits({ maxStorageBufferBindingSize: 1 << 20 });
    const graph = new Graph(device, {
      layers: [flatten({ inputShape: [28, 28] }), dense({ units: 10, activation: 'softmax' })],
      inputShape: [28, 28],
      maxBatchSize: 32,
      optimizer: optimizerConfig('sgd'),
      random: seededRandom(1),
    });
    const y = new Uint8Array(400);
    expect(() => graph.data.upload(new Float32Array(400 * 784), y)).toThrow(
      "the data set [400, 28, 28] as float32 takes 1,254,400 bytes (1.2 MiB), over this device's maxStorageBufferBindingSize of 1,048,576 bytes (1.0 MiB): " +
        'fit and evaluate hold their data on the GPU whole; give pixels as bytes (a Uint8Array, a quarter of the size), or fewer rows',
    );
    expect(graph.data.upload(new Uint8Array(400 * 784), y).rows).toBe(400);
    graph.destroy();
  });

  test('a GPU error in a step surfaces from the run, naming the step, instead of silent zeros', async () => {
    const { device } = await testGpu();
    const layers = [flatten({ inputShape: [4] }), dense({ units: 3, activation: 'softmax' })];
    const graph = new Graph(device, { layers, inputShape: [4], maxBatchSize: 8, optimizer: optimizerConfig('sgd'), random: seededRandom(1) });
    const data = { x: new Float32Array(16 * 4), y: new Uint8Array(16), order: Uint32Array.from({ length: 16 }, (_, i) => i) };
    // Zero inputs and zero biases: every logit is 0 and the loss log 3.
    const run = async (kind: 'train' | 'evaluate') => runPass(graph, await graph.data.pass(data, 8), { kind, x: data.x, order: data.order, updateEvery: 1 });
    expect((await run('evaluate')).logs.loss).toBeCloseTo(Math.log(3), 5);
    // A buffer the step uses, gone: every later submit is invalid.
    graph.arena.buffer.destroy();
    await expect(run('train')).rejects.toThrow(/^train step 1\/2: .*parameters/s);
    graph.destroy();
  });

  test('inputs and labels that disagree are named', async () => {
    const model = await compiled('mlp', 1);
    await expect(model.fit(new Float32Array(784 * 3), new Uint8Array(2))).rejects.toThrow('fit(): x holds 3 inputs but y holds 2 labels');
    await expect(model.fit(new Float32Array(700), new Uint8Array(1))).rejects.toThrow(
      'fit(): x has 700 values, not a whole number of inputs of shape [28, 28] (784 values each)',
    );
    await expect(model.fit(new Float32Array(784), Uint8Array.of(10))).rejects.toThrow('fit(): label 0 is 10, outside 0..9');
    await expect(model.fit(new Float32Array(784), Uint8Array.of(1), { batchSize: 0 })).rejects.toThrow('fit(): batchSize must be a positive integer, got 0');
  });

  test('layers that do not fit together are named', () => {
    expect(() => sequential([dense({ units: 4, inputShape: [28, 28] })])).toThrow(
      'layer 0 (dense): expects a flat input, got [28, 28]; add a flatten() layer before it',
    );
    expect(() => sequential([flatten()])).toThrow('sequential(): the first layer needs an inputShape');
    expect(() => tutorialModel('mlp').compile({ metrics: ['f1' as 'accuracy'] })).toThrow("compile(): unknown metric 'f1' (known: accuracy, topKCategoricalAccuracy, sparseTopKCategoricalAccuracy, mse, mae)");
  });

  test('a model without a final softmax is refused for this loss', async () => {
    const model = sequential([flatten({ inputShape: [4] }), dense({ units: 3 })]);
    model.compile({ gpu: await testGpu() });
    await expect(model.fit(new Float32Array(4), Uint8Array.of(0))).rejects.toThrow(
      'sparseCategoricalCrossentropy: the last layer must be dense with a softmax activation',
    );
  });

  test('a file that is not a model is refused with the reason', async () => {
    await expect(loadModelBytes(new Uint8Array(4), { source: 'x.bin' })).rejects.toThrow('x.bin: not a model file: 4 bytes is too short for a safetensors header');
    const header = new TextEncoder().encode('{"__metadata__":{"format":"other"}}');
    const bytes = new Uint8Array(8 + header.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    await expect(loadModelBytes(bytes, { source: 'y.safetensors' })).rejects.toThrow("y.safetensors: not a model file: format is 'other'");
    bytes[0] = 200;
    await expect(loadModelBytes(bytes, { source: 'z' })).rejects.toThrow('z: not a model file: the header claims 200 bytes');
  });
});
