// Device loss during fit: with retries, fit makes a new device, rebuilds the
// model from its last checkpoint (or the state read at the last epoch's end)
// and ends as an uninterrupted run would; without, it stops with an error naming where.
import { describe, expect, test } from 'vitest';
import { dense, dropout, flatten } from '../src/engine/layers';
import { sequential, type DeviceLoss, type History, type Model } from '../src/engine/model';
import type { Callback } from '../src/engine/training/callbacks';
import { freshGpu, type Gpu } from '../src/engine/device';
import { seededRandom } from './helpers';

// 90 rows in batches of 16: 6 steps an epoch, the last one partial.
const ROWS = 90;
const FEATURES = 12;
const random = seededRandom(7);
const x = Float32Array.from({ length: ROWS * FEATURES }, () => random() * 2 - 1);
const y = Uint8Array.from({ length: ROWS }, (_, i) => (x[i * FEATURES] > 0 ? 1 : 0) + (i % 3 === 0 ? 2 : 0));

/** A model on a device of its own (the test destroys it), whose replacements the test gets to see. */
async function model(): Promise<{ model: Model; gpus: Gpu[] }> {
  const gpus = [await freshGpu()];
  const m = sequential([flatten({ inputShape: [FEATURES] }), dense({ units: 16, activation: 'relu' }), dropout({ rate: 0.25 }), dense({ units: 4, activation: 'softmax' })]);
  m.compile({ metrics: ['accuracy'], optimizer: 'adam', seed: 3, gpu: gpus[0], recreateGpu: async () => gpus[gpus.push(await freshGpu()) - 1] });
  return { model: m, gpus };
}

const losses = (history: History) => history.epochs.map((h) => [h.logs.loss, h.logs.accuracy]);

/** Destroys the model's current device at the given (epoch, step) updates, once each. */
function destroyAt(gpus: Gpu[], at: [number, number][]): Callback {
  const left = at.map(([e, s]) => `${e}:${s}`);
  return {
    onTrainBatchEnd: (step, _logs, { epoch }) => {
      const i = left.indexOf(`${epoch}:${step}`);
      if (i < 0) return;
      left.splice(i, 1);
      gpus[gpus.length - 1].device.destroy();
    },
  };
}

describe('device loss', () => {
  for (const from of ['checkpoint', 'epoch end'] as const) {
    test(`a device destroyed mid-epoch is replaced and training ends as if never lost (from the last ${from})`, async () => {
      const reference = await model();
      const want = await reference.model.fit(x, y, { epochs: 3, batchSize: 16 });
      reference.model.destroy();

      const { model: m, gpus } = await model();
      const told: DeviceLoss[] = [];
      const epochs: number[] = [];
      const history = await m.fit(x, y, {
        epochs: 3,
        batchSize: 16,
        updateEvery: 1,
        deviceLossRetries: 2,
        ...(from === 'checkpoint' && { checkpoint: { everySteps: 4, write: async () => {} } }),
        callbacks: [destroyAt(gpus, [[1, 3]]), { onEpochEnd: (epoch) => void epochs.push(epoch) }],
        onDeviceLost: (loss) => void told.push(loss),
      });
      expect(gpus.length).toBe(2);
      expect(told).toHaveLength(1);
      expect(told[0]).toMatchObject({ epoch: 1, reason: 'destroyed', recovered: true, count: 1 });
      // Checkpoints every 4 steps: the last one before epoch 1's 4th step is global step 8, its step 2.
      expect(told[0].resumedAt).toEqual(from === 'checkpoint' ? { epoch: 1, step: 2 } : { epoch: 1, step: 0 });
      expect(history.epoch).toEqual([0, 1, 2]);
      expect(epochs).toEqual([0, 1, 2]);
      for (const h of history.epochs) expect(Number.isFinite(h.logs.loss)).toBe(true);
      expect(losses(history)).toEqual(losses(want));
      const predictions = await m.predict(x.subarray(0, 4 * FEATURES));
      expect(predictions).toHaveLength(16);
      expect([...predictions].every(Number.isFinite)).toBe(true);
      m.destroy();
    });
  }

  test('without retries, or once they are used up, fit stops with an error naming the lost device and where', async () => {
    const { model: m, gpus } = await model();
    const told: DeviceLoss[] = [];
    await expect(m.fit(x, y, { epochs: 3, batchSize: 16, updateEvery: 1, callbacks: destroyAt(gpus, [[1, 2]]), onDeviceLost: (loss) => void told.push(loss) })).rejects.toThrow(
      /^fit\(\): the GPU device was lost in epoch 2\/3 after step \d\/6 was submitted \(destroyed: .+\) \(set fit's deviceLossRetries to recover\)$/,
    );
    expect(told).toMatchObject([{ epoch: 1, recovered: false, count: 1 }]);
    m.destroy();

    const again = await model();
    await expect(
      again.model.fit(x, y, { epochs: 3, batchSize: 16, updateEvery: 1, deviceLossRetries: 1, callbacks: destroyAt(again.gpus, [[0, 2], [1, 1]]) }),
    ).rejects.toThrow(/^fit\(\): the GPU device was lost in epoch 2\/3 .*; gave up after 1 recovery$/);
    again.model.destroy();
    await expect(m.fit(x, y, { deviceLossRetries: -1 })).rejects.toThrow('fit(): deviceLossRetries must be a non-negative integer, got -1');
  });
});
