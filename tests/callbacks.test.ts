// The callbacks against Keras 3's rules, driven by hand as Keras' own tests
// drive them (keras/src/callbacks/*_test.py): a stand-in model, a sequence of
// logs, and what Keras' documentation says happens.
import { describe, expect, test } from 'vitest';
import { earlyStopping, learningRateScheduler, modelCheckpoint, reduceLROnPlateau, type Callback, type TrainedModel } from '../src/engine/training/callbacks';
import { History } from '../src/engine/training/history';
import { formatLogs, progressLine } from '../src/engine/training/progress';
import type { EpochLogs } from '../src/engine/training/run';
import type { Logs } from '../src/engine/graph';

/** Keras' tests' DummyModel: its weights are the epoch they were set at. */
class Dummy implements TrainedModel {
  stopTraining = false;
  learningRate = 0.01;
  weights = -1;
  async readLearningRate() {
    return this.learningRate;
  }
  async getWeights() {
    return [{ name: 'w', shape: [1], values: Float32Array.of(this.weights) }];
  }
  async setWeights(weights: { values: Float32Array }[]) {
    this.weights = weights[0].values[0];
  }
  async toBytes() {
    return Uint8Array.of(this.weights);
  }
}

const details = (logs: Logs): EpochLogs => ({ logs, printed: logs, msPerStep: 1, steps: 1 });

/** Runs `callback` over one epoch per value of `values` (logged as `monitor`) until it stops training; returns the epochs run. */
async function drive(callback: Callback, model: Dummy, monitor: string, values: number[]): Promise<number> {
  callback.setModel?.(model);
  await callback.onTrainBegin?.({});
  let epochs = 0;
  for (const [epoch, value] of values.entries()) {
    epochs++;
    model.weights = epoch;
    await callback.onEpochBegin?.(epoch);
    await callback.onEpochEnd?.(epoch, { loss: value, [monitor]: value }, details({ loss: value, [monitor]: value }));
    if (model.stopTraining) break;
  }
  await callback.onTrainEnd?.({});
  return epochs;
}

describe('earlyStopping', () => {
  // keras' test_early_stopping_patience: the stopped epoch is max(patience, 1) + 2.
  for (const patience of [0, 1, 2, 3]) {
    test(`patience=${patience} on losses 10, 9, 8, 9, 8.9, ... stops at epoch ${Math.max(patience, 1) + 2}`, async () => {
      const stopper = earlyStopping({ monitor: 'loss', patience });
      await drive(stopper, new Dummy(), 'loss', [10, 9, 8, 9, 8.9, 8.8, 8.7, 8.6, 8.5]);
      expect(stopper.stoppedEpoch).toBe(Math.max(patience, 1) + 2);
    });
  }

  test("Keras' documented example: a loss that only grows, patience 3, runs 4 epochs", async () => {
    expect(await drive(earlyStopping({ monitor: 'loss', patience: 3 }), new Dummy(), 'loss', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe(4);
  });

  test('restoreBestWeights puts back the best epoch, stopped early or not (Keras 3)', async () => {
    // keras' test_early_stopping_final_weights_when_restoring_model_weights.
    const model = new Dummy();
    const stopper = earlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
    expect(await drive(stopper, model, 'val_loss', [0.2, 0.15, 0.1, 0.11, 0.12])).toBe(5);
    expect([model.weights, stopper.bestEpoch, stopper.stoppedEpoch]).toEqual([2, 2, 4]);
    // No epoch beats the baseline: five epochs, and the best of them (epoch 2) restored.
    const second = new Dummy();
    const baseline = earlyStopping({ monitor: 'val_loss', patience: 5, baseline: 0.5, restoreBestWeights: true });
    expect(await drive(baseline, second, 'val_loss', [0.9, 0.8, 0.7, 0.71, 0.72, 0.73])).toBe(5);
    expect(second.weights).toBe(2);
    // Never stopped: the best weights are restored at the end all the same.
    const third = new Dummy();
    await drive(earlyStopping({ monitor: 'val_loss', patience: 10, restoreBestWeights: true }), third, 'val_loss', [0.5, 0.3, 0.4]);
    expect(third.weights).toBe(1);
  });

  test('minDelta, mode and startFromEpoch', async () => {
    // An improvement smaller than minDelta is none: stops after patience epochs of them.
    expect(await drive(earlyStopping({ monitor: 'loss', patience: 1, minDelta: 0.1 }), new Dummy(), 'loss', [1, 0.95, 0.9, 0.85, 0.8])).toBe(2);
    // 'auto' maximizes accuracy; 'min' would stop a rising accuracy at once.
    expect(await drive(earlyStopping({ monitor: 'val_accuracy', patience: 1 }), new Dummy(), 'val_accuracy', [0.5, 0.6, 0.7, 0.8])).toBe(4);
    expect(await drive(earlyStopping({ monitor: 'val_accuracy', patience: 1, mode: 'min' }), new Dummy(), 'val_accuracy', [0.5, 0.6, 0.7, 0.8])).toBe(2);
    // Epochs before startFromEpoch are not counted: a loss that only grows runs start + patience + 1 epochs.
    expect(await drive(earlyStopping({ monitor: 'loss', patience: 2, startFromEpoch: 3 }), new Dummy(), 'loss', [1, 2, 3, 4, 5, 6, 7, 8, 9])).toBe(6);
  });

  test('a metric whose direction is unknown, or a bad setting, is refused', () => {
    expect(() => earlyStopping({ monitor: 'val_f1' })).toThrow("earlyStopping(): cannot tell whether 'val_f1' should be maximized or minimized; pass mode: 'max' or 'min'");
    expect(() => earlyStopping({ patience: -1 })).toThrow('earlyStopping(): patience must be a non-negative integer, got -1');
    expect(() => earlyStopping({ mode: 'up' as 'max' })).toThrow("earlyStopping(): mode must be 'auto', 'min' or 'max', got 'up'");
  });
});

describe('reduceLROnPlateau', () => {
  // keras' reduce_lr_on_plateau_test: a min_delta so large that only the first epoch improves.
  test('patience 1, factor 0.1: the rate falls once after two epochs', async () => {
    const model = new Dummy();
    await drive(reduceLROnPlateau({ patience: 1, factor: 0.1, monitor: 'val_loss', minDelta: 100 }), model, 'val_loss', [1, 1]);
    expect(model.learningRate).toBeCloseTo(0.001, 12);
  });

  test('minLr bounds it', async () => {
    const model = new Dummy();
    await drive(reduceLROnPlateau({ patience: 1, factor: 0.1, monitor: 'val_loss', minDelta: 10, minLr: 0.005 }), model, 'val_loss', [1, 1, 1, 1]);
    expect(model.learningRate).toBe(0.005);
  });

  test('cooldown waits before counting again', async () => {
    const model = new Dummy();
    await drive(reduceLROnPlateau({ patience: 1, factor: 0.1, monitor: 'val_loss', minDelta: 100, cooldown: 2 }), model, 'val_loss', [1, 1, 1, 1]);
    expect(model.learningRate).toBeCloseTo(0.0001, 12);
  });

  test("each epoch's logs get learning_rate; factor >= 1 is refused", async () => {
    const model = new Dummy();
    const callback = reduceLROnPlateau();
    callback.setModel?.(model);
    const logs: Logs = { loss: 1, val_loss: 1 };
    await callback.onEpochEnd?.(0, logs, details(logs));
    expect(logs.learning_rate).toBe(0.01);
    expect(() => reduceLROnPlateau({ factor: 1 })).toThrow('reduceLROnPlateau(): factor must be below 1, got 1');
  });
});

test('learningRateScheduler sets schedule(epoch, rate) at each epoch start', async () => {
  const model = new Dummy();
  const seen: number[] = [];
  await drive(
    learningRateScheduler((epoch, rate) => {
      seen.push(rate);
      return epoch < 1 ? rate : rate * 0.5;
    }),
    model,
    'loss',
    [1, 1, 1],
  );
  expect(seen).toEqual([0.01, 0.01, 0.005]);
  expect(model.learningRate).toBe(0.0025);
  const bad = learningRateScheduler(() => NaN);
  bad.setModel?.(model);
  expect(() => bad.onEpochBegin?.(4)).toThrow('learningRateScheduler(): the schedule returned NaN for epoch 4, not a finite rate >= 0');
});

test('modelCheckpoint writes every epoch, or only when the monitor improves', async () => {
  const written: number[] = [];
  const write = async (bytes: Uint8Array, { epoch }: { epoch: number }) => void written.push(epoch, bytes[0]);
  await drive(modelCheckpoint({ write }), new Dummy(), 'val_loss', [0.5, 0.6, 0.4]);
  expect(written).toEqual([0, 0, 1, 1, 2, 2]);
  written.length = 0;
  await drive(modelCheckpoint({ write, saveBestOnly: true }), new Dummy(), 'val_loss', [0.5, 0.6, 0.4, 0.45]);
  expect(written).toEqual([0, 0, 2, 2]);
  written.length = 0;
  // 'auto' maximizes what holds 'acc'.
  await drive(modelCheckpoint({ write, saveBestOnly: true, monitor: 'val_accuracy' }), new Dummy(), 'val_accuracy', [0.5, 0.6, 0.4]);
  expect(written).toEqual([0, 0, 1, 1]);
});

test('History keeps one value an epoch per name, padding a name that appears late', () => {
  const history = new History();
  history.add(3, details({ loss: 0.5, accuracy: 0.8 }));
  history.add(4, details({ loss: 0.4, accuracy: 0.85, learning_rate: 0.001 }));
  expect(history.epoch).toEqual([3, 4]);
  expect(history.history).toEqual({ loss: [0.5, 0.4], accuracy: [0.8, 0.85], learning_rate: [NaN, 0.001] });
  expect(History.fromJSON(JSON.parse(JSON.stringify(history.toJSON()))).history).toEqual(history.history);
  // A checkpoint written before History held the figures themselves.
  const old = History.fromJSON([{ loss: 0.5, accuracy: 0.8, keras: { loss: 0.6, accuracy: 0.7 }, valLoss: 0.45, valAccuracy: 0.82, msPerStep: 3, steps: 7 }]);
  expect(old.epochs[0]).toEqual({ logs: { loss: 0.5, accuracy: 0.8, val_loss: 0.45, val_accuracy: 0.82 }, printed: { loss: 0.6, accuracy: 0.7 }, msPerStep: 3, steps: 7 });
});

test("Keras' progress line: figures sorted by name, to four places", () => {
  expect(formatLogs({ loss: 0.01964, accuracy: 0.99391, val_loss: 0.5 })).toBe(' - accuracy: 0.9939 - loss: 0.0196 - val_loss: 0.5000');
  expect(progressLine({ step: 469, steps: 469, seconds: 4.2, msPerStep: 8.3 }, { loss: 0.0196, accuracy: 0.9939 })).toBe(
    '469/469 ━━━━━━━━━━━━━━━━━━━━ 4s 8ms/step - accuracy: 0.9939 - loss: 0.0196',
  );
  expect(progressLine({ step: 12, steps: 469, seconds: 0.4, msPerStep: 33 }, { loss: 2.3 })).toBe(' 12/469 ━                    0s 33ms/step - loss: 2.3000');
});
