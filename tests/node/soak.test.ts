// A long run: 2,000 training steps of a tiny model keep the GPU's live buffers
// (count and bytes) flat, the JS heap bounded and every loss finite.
import { expect, test } from 'vitest';
import { dense, dropout, flatten } from '../../src/engine/layers';
import { sequential } from '../../src/engine/model';
import { seededRandom, testGpu } from '../helpers';

const FEATURES = 8;
const ROWS = 60;
const BATCH = 8;
// 8 steps an epoch (the last partial, so both plans run), 250 epochs.
const EPOCHS = 250;

test(`2,000 steps: flat GPU memory, a bounded heap, finite losses`, { timeout: 120_000 }, async () => {
  const gpu = await testGpu();
  const random = seededRandom(3);
  const x = Float32Array.from({ length: ROWS * FEATURES }, () => random() * 2 - 1);
  const y = Uint8Array.from({ length: ROWS }, (_, i) => (x[i * FEATURES] > 0 ? 1 : 0) + (x[i * FEATURES + 1] > 0 ? 2 : 0));
  const model = sequential([flatten({ inputShape: [FEATURES] }), dense({ units: 16, activation: 'relu' }), dropout({ rate: 0.1 }), dense({ units: 4, activation: 'softmax' })]);
  model.compile({ optimizer: 'adam', seed: 1, gpu });

  // Every buffer made and destroyed while training, counted at each epoch's end.
  const live = new Map<GPUBuffer, number>();
  const { createBuffer } = gpu.device;
  gpu.device.createBuffer = function (descriptor: GPUBufferDescriptor) {
    const buffer = createBuffer.call(this, descriptor);
    live.set(buffer, descriptor.size);
    const destroy = buffer.destroy;
    buffer.destroy = function () {
      live.delete(buffer);
      return destroy.call(this);
    };
    return buffer;
  };
  const samples: { buffers: number; bytes: number; heap: number }[] = [];
  const losses: number[] = [];
  try {
    const history = await model.fit(x, y, {
      epochs: EPOCHS,
      batchSize: BATCH,
      updateEvery: 2,
      validationData: [x.subarray(0, 16 * FEATURES), y.subarray(0, 16)],
      callbacks: {
        onTrainBatchEnd: (_step, logs) => void losses.push(logs.loss),
        onEpochEnd: () => {
          samples.push({ buffers: live.size, bytes: [...live.values()].reduce((a, b) => a + b, 0), heap: process.memoryUsage().heapUsed });
        },
      },
    });
    expect(history.epochs.reduce((n, h) => n + h.steps, 0)).toBe(EPOCHS * Math.ceil(ROWS / BATCH));
    expect([...history.history.loss, ...history.history.val_loss].every(Number.isFinite)).toBe(true);
    // It learns: the last epoch's loss is below the first's.
    expect(history.history.loss[EPOCHS - 1]).toBeLessThan(history.history.loss[0]);
  } finally {
    gpu.device.createBuffer = createBuffer;
  }
  expect(losses.length).toBe(EPOCHS * 4);
  expect(losses.every(Number.isFinite)).toBe(true);
  // After the first epoch (plans and the evaluation's made), nothing more is kept.
  const [first] = samples;
  const last = samples[samples.length - 1];
  console.info(`after epoch 1: ${first.buffers} buffers, ${first.bytes} bytes, heap ${(first.heap / 2 ** 20).toFixed(1)} MiB; after epoch ${EPOCHS}: ${last.buffers}, ${last.bytes}, ${(last.heap / 2 ** 20).toFixed(1)} MiB`);
  for (const s of samples) expect({ buffers: s.buffers, bytes: s.bytes }).toEqual({ buffers: first.buffers, bytes: first.bytes });
  // The heap may grow until the collector runs, but not by a leak's worth (a kept Float32Array per step would be far more).
  expect(Math.max(...samples.map((s) => s.heap)) - first.heap).toBeLessThan(32 * 2 ** 20);
  model.destroy();
});
