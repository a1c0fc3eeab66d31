// Checkpoints in the engine: fit resumed from any checkpoint (mid-epoch or at an
// epoch's end) ends with the losses and weights of a run never interrupted, and bad ones are refused.
import { describe, expect, test } from 'vitest';
import { dense, dropout, flatten } from '../src/engine/layers';
import { sequential, type CompileOptions, type History, type Model } from '../src/engine/model';
import { readCheckpoint, type CheckpointInfo } from '../src/engine/checkpoint';
import { decodeSafetensors, encodeSafetensors } from '../src/engine/safetensors';
import { fixture, seededRandom, testGpu } from './helpers';

// 90 rows in batches of 16: 6 steps an epoch, the last one partial.
const ROWS = 90;
const FEATURES = 12;
const random = seededRandom(42);
const x = Float32Array.from({ length: ROWS * FEATURES }, () => random() * 2 - 1);
const y = Uint8Array.from({ length: ROWS }, (_, i) => (x[i * FEATURES] + x[i * FEATURES + 1] > 0 ? 1 : 0) + (i % 3 === 0 ? 2 : 0));

/** Adam (a step count on the GPU) and dropout (a step counter, masks from the model's seed): every kind of state. */
async function model(optimizer: 'adam' | 'rmsprop' = 'adam', precision: Pick<CompileOptions, 'precision' | 'lossScale'> = {}): Promise<Model> {
  const m = sequential([flatten({ inputShape: [FEATURES] }), dense({ units: 16, activation: 'relu' }), dropout({ rate: 0.25 }), dense({ units: 4, activation: 'softmax' })]);
  m.compile({ metrics: ['accuracy'], optimizer, seed: 9, gpu: await testGpu(), ...precision });
  return m;
}

const losses = (history: History) => history.epochs.map((h) => [h.logs.loss, h.logs.accuracy, h.printed.loss, h.printed.accuracy]);
const weights = async (m: Model) => (await m.getWeights()).map((w) => [...w.values]);

describe('checkpoints', () => {
  test('every checkpoint, mid-epoch or at an epoch end, resumes to the same losses and bit-identical weights', async () => {
    const reference = await model();
    const saved: { bytes: Uint8Array; info: CheckpointInfo }[] = [];
    const history = await reference.fit(x, y, {
      epochs: 3,
      batchSize: 16,
      checkpoint: { everySteps: 4, everyEpoch: true, write: async (bytes, info) => void saved.push({ bytes, info }) },
    });
    // Steps 4, 8, 12, 16 of 18 (every 4), and each epoch's end (6, 12 and 18).
    expect(saved.map(({ info }) => `${info.epoch}:${info.step}`)).toEqual(['0:4', '1:0', '1:2', '2:0', '2:4', '3:0']);
    const want = await weights(reference);
    // The same run without checkpoints: writing them changes nothing.
    const plain = await model();
    expect(losses(await plain.fit(x, y, { epochs: 3, batchSize: 16 }))).toEqual(losses(history));
    expect(await weights(plain)).toEqual(want);
    plain.destroy();

    for (const { bytes, info } of saved) {
      // A fresh model, compiled as the first was but trained on nothing yet.
      const resumed = await model();
      const epochs: number[] = [];
      const got = await resumed.fit(x, y, { epochs: 3, batchSize: 16, resumeFrom: bytes, callbacks: { onEpochEnd: (epoch) => void epochs.push(epoch) } });
      expect(epochs, `from ${info.epoch}:${info.step}`).toEqual([0, 1, 2].filter((e) => e >= info.epoch));
      expect(losses(got), `from ${info.epoch}:${info.step}`).toEqual(losses(history));
      expect(await weights(resumed), `from ${info.epoch}:${info.step}`).toEqual(want);
      resumed.destroy();
    }
    reference.destroy();
  });

  test('in mixed precision, every checkpoint resumes to the same losses, weights and loss scale; a float32 model refuses one', async () => {
    // The scale doubles every 4 finite steps: it changes between the checkpoints.
    const mixed = { precision: 'mixed', lossScale: { dynamicGrowthSteps: 4 } } as const;
    const reference = await model('adam', mixed);
    const saved: Uint8Array[] = [];
    const history = await reference.fit(x, y, { epochs: 2, batchSize: 16, checkpoint: { everySteps: 5, everyEpoch: true, write: async (bytes) => void saved.push(bytes) } });
    const want = { weights: await weights(reference), scale: await reference.readLossScale() };
    expect(want.scale).toBeGreaterThan(2 ** 15);
    expect(saved).toHaveLength(4);
    for (const [i, bytes] of saved.entries()) {
      const resumed = await model('adam', mixed);
      const got = await resumed.fit(x, y, { epochs: 2, batchSize: 16, resumeFrom: bytes });
      expect(losses(got), `checkpoint ${i}`).toEqual(losses(history));
      expect({ weights: await weights(resumed), scale: await resumed.readLossScale() }, `checkpoint ${i}`).toEqual(want);
      resumed.destroy();
    }
    const { weights: tensors, metadata } = decodeSafetensors(saved[0], 'ck', 'a checkpoint');
    const counted = encodeSafetensors(tensors, { ...metadata, training: JSON.stringify({ ...JSON.parse(metadata.training), lossScaleFiniteSteps: 4 }) });
    expect(() => readCheckpoint(counted, 'ck')).toThrow('ck: lossScaleFiniteSteps is 4, but the scale doubles after 4 finite steps');
    const plain = await model('adam');
    await expect(plain.fit(x, y, { epochs: 2, batchSize: 16, resumeFrom: saved[0] })).rejects.toThrow(
      'fit(): cannot resume from resumeFrom: it was written in precision {"precision":"mixed","lossScale":{"initialScale":32768,"dynamicGrowthSteps":4}}, this model is compiled with {"precision":"float32"}',
    );
    plain.destroy();
    reference.destroy();
  });

  test('a checkpoint is refused for another model, optimizer, data size or batch size, and a model file is not one', async () => {
    const m = await model();
    let bytes!: Uint8Array;
    await m.fit(x, y, { epochs: 1, batchSize: 16, checkpoint: { everySteps: 2, write: async (b) => void (bytes = b) } });
    const other = sequential([flatten({ inputShape: [FEATURES] }), dense({ units: 4, activation: 'softmax' })]);
    other.compile({ metrics: ['accuracy'], optimizer: 'adam', gpu: await testGpu() });
    await expect(other.fit(x, y, { batchSize: 16, resumeFrom: { bytes, source: 'run.ckpt' } })).rejects.toThrow(
      'fit(): cannot resume from run.ckpt: it was written for another model (its architecture differs from this one)',
    );
    const rmsprop = await model('rmsprop');
    await expect(rmsprop.fit(x, y, { batchSize: 16, resumeFrom: bytes })).rejects.toThrow(
      'fit(): cannot resume from resumeFrom: it was written with the optimizer {"kind":"adam"',
    );
    await expect(m.fit(x, y, { batchSize: 32, resumeFrom: bytes })).rejects.toThrow(
      'fit(): cannot resume from resumeFrom: it was written training on 90 samples in batches of 16, not 90 in batches of 32',
    );
    await expect(m.fit(x.subarray(0, 80 * FEATURES), y.subarray(0, 80), { batchSize: 16, resumeFrom: bytes })).rejects.toThrow(
      'it was written training on 90 samples in batches of 16, not 80 in batches of 16',
    );
    await expect(m.fit(x, y, { batchSize: 16, resumeFrom: await m.toBytes() })).rejects.toThrow(
      "resumeFrom: not a checkpoint: format is \"webgpu-train/1\", expected 'webgpu-train-checkpoint/2'",
    );
    await expect(m.fit(x, y, { checkpoint: { everySteps: 0, write: async () => {} } })).rejects.toThrow('fit(): checkpoint.everySteps must be a positive integer, got 0');
    m.destroy();
    other.destroy();
    rmsprop.destroy();
  });

  test('its position must add up, its bits must be the ones written, and what is not one is called so', async () => {
    const m = await model();
    let bytes!: Uint8Array;
    await m.fit(x, y, { epochs: 2, batchSize: 16, checkpoint: { everySteps: 8, write: async (b) => void (bytes = b) } });
    m.destroy();
    // Epoch 1 (0-based), step 2 of 6: 32 rows seen.
    const run = readCheckpoint(bytes, 'ck').run;
    expect([run.epoch, run.step, run.steps, run.seen]).toEqual([1, 2, 6, 32]);
    /** The checkpoint with fields of its training metadata replaced, written whole again (with a checksum of its own). */
    const edited = (fields: Record<string, unknown>) => {
      const { weights, metadata } = decodeSafetensors(bytes, 'ck', 'a checkpoint');
      return encodeSafetensors(weights, { ...metadata, training: JSON.stringify({ ...JSON.parse(metadata.training), ...fields }) });
    };
    const refusals: [Record<string, unknown>, string][] = [
      [{ steps: 2000, step: 1000 }, 'steps is 2000, but 90 samples in batches of 16 make 6 an epoch'],
      [{ step: 7 }, 'step 7 is not within an epoch of 6 steps'],
      [{ seen: 90 }, 'seen is 90, but 2 steps of 16 rows see 32'],
      [{ loss: 'mse' }, 'loss and metrics are "mse" and'],
      [{ globalStep: 3 }, 'globalStep is 3, but epoch 1, step 2 of 6 is step 8'],
      [{ epoch: 4 }, 'globalStep is 8, but epoch 4, step 2 of 6 is step 26'],
      [{ history: [{}, {}] }, 'history holds 2 epochs, but the checkpoint is in epoch 1 (0-based)'],
      [{ optimizerStep: 2 ** 32 }, 'optimizerStep is 4294967296, more than a u32 holds'],
      [{ batchSize: 0 }, 'batchSize 0 and samples 90 must both be at least 1'],
    ];
    for (const [fields, message] of refusals) expect(() => readCheckpoint(edited(fields), 'ck'), JSON.stringify(fields)).toThrow(`ck: ${message}`);
    expect(readCheckpoint(edited({}), 'ck').run).toEqual(run);

    // A flipped bit in a weight, then files that are not checkpoints at all.
    const flipped = bytes.slice();
    flipped[bytes.length - 100] ^= 0x10;
    expect(() => readCheckpoint(flipped, 'ck')).toThrow(/^ck: damaged: its CRC-32 is [0-9a-f]{8}, but it was written with [0-9a-f]{8}$/);
    expect(() => readCheckpoint(new TextEncoder().encode('not a checkpoint at all'), 'junk')).toThrow('junk: not a checkpoint: the header claims');
    expect(() => readCheckpoint(encodeSafetensors([], { format: 'x', architecture: '[' }), 'other')).toThrow(`other: not a checkpoint: format is "x"`);
    expect(() => readCheckpoint(edited({}).fill(0x20, 8, 9), 'spaced')).toThrow('spaced: not a checkpoint: the header is not JSON');
  });

  test('a checkpoint of format 1, from before losses and metrics were chosen, resumes as sparse cross-entropy and accuracy', async () => {
    // Written mid-epoch (epoch 1, step 2) by this model, compiled as `model()` compiles it, training on x and y.
    const bytes = await fixture('checkpoint-format-1.safetensors');
    const checkpoint = readCheckpoint(bytes, 'format 1');
    expect(checkpoint.run).toMatchObject({ epoch: 1, step: 2, loss: { kind: 'sparseCategoricalCrossentropy', fromLogits: false }, metrics: ['accuracy'] });
    // Its Σ loss and its count right, as format 2's sums.
    const { weights: tensors, metadata } = decodeSafetensors(bytes, 'format 1');
    const lossSum = tensors.find((w) => w.name === 'metrics.loss_sum')!.values[0];
    expect([...checkpoint.tensors.get('metrics.sums')!.values]).toEqual([lossSum, JSON.parse(metadata.training).correct]);

    // Resumed, writing a checkpoint of format 2 on the way; resumed again from that one, it ends the same.
    const resumed = await model();
    let saved: Uint8Array | undefined;
    const history = await resumed.fit(x, y, { epochs: 3, batchSize: 16, resumeFrom: bytes, checkpoint: { everySteps: 4, write: async (b) => void (saved ??= b) } });
    expect(history.epoch).toEqual([0, 1, 2]);
    for (const epoch of history.epochs) expect(Object.keys(epoch.logs).sort()).toEqual(['accuracy', 'loss']);
    const again = await model();
    const continued = await again.fit(x, y, { epochs: 3, batchSize: 16, resumeFrom: saved! });
    expect(losses(continued)).toEqual(losses(history));
    expect(await weights(again)).toEqual(await weights(resumed));

    // Its sums are the accuracy's too: a model compiled without it is told so.
    const plain = sequential([flatten({ inputShape: [FEATURES] }), dense({ units: 16, activation: 'relu' }), dropout({ rate: 0.25 }), dense({ units: 4, activation: 'softmax' })]);
    plain.compile({ optimizer: 'adam', seed: 9, gpu: await testGpu() });
    await expect(plain.fit(x, y, { epochs: 3, batchSize: 16, resumeFrom: bytes })).rejects.toThrow(
      'fit(): cannot resume from resumeFrom: it was written with the loss sparseCategoricalCrossentropy and metrics [accuracy], this model is compiled with the loss sparseCategoricalCrossentropy and metrics []',
    );
    for (const m of [resumed, again, plain]) m.destroy();
  });
});
