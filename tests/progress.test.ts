// What a model tells of the waits before and around its steps: compiling a
// plan's kernels, timing their variants and putting data on the GPU
// (CompileOptions.onProgress); fit's speed counting steps only; evaluate's
// progress, callbacks and stopEvaluating; predict's shape; the run estimate.
import { describe, expect, test } from 'vitest';
import { memoryStore } from '../src/engine/autotune';
import { dense, flatten } from '../src/engine/layers';
import { sequential, type CompileOptions, type Model } from '../src/engine/model';
import { formatMs } from '../src/engine/profile';
import { describeSetup, type SetupProgress } from '../src/engine/setupProgress';
import type { EarlyStopping } from '../src/engine/training/callbacks';
import { History } from '../src/engine/training/history';
import { formatDuration, runEstimate, runEstimator, setProgressWriter, whyTrainingEnded } from '../src/engine/training/progress';
import { seededRandom, testGpu } from './helpers';

const FEATURES = 6;
const CLASSES = 4;

function data(rows: number, seed = 5) {
  const random = seededRandom(seed);
  const x = Float32Array.from({ length: rows * FEATURES }, () => random() * 2 - 1);
  const y = Uint8Array.from({ length: rows }, (_, i) => Number(x[i * FEATURES] > 0) + 2 * Number(x[i * FEATURES + 1] > 0));
  return { x, y };
}

async function model(options: CompileOptions = {}): Promise<Model> {
  const m = sequential([flatten({ inputShape: [FEATURES] }), dense({ units: 12, activation: 'relu' }), dense({ units: CLASSES, activation: 'softmax' })]);
  m.compile({ optimizer: 'adam', metrics: ['accuracy'], seed: 2, gpu: await testGpu(), ...options });
  return m;
}

/** The events of one stage, split where `done` falls back to 0 (a new plan, a new data set). */
function runsOf(events: SetupProgress[], stage: SetupProgress['stage']): SetupProgress[][] {
  const runs: SetupProgress[][] = [];
  for (const event of events.filter((e) => e.stage === stage)) {
    if (event.done === 0 && (runs.length === 0 || runs.at(-1)!.at(-1)!.done === runs.at(-1)!.at(-1)!.total)) runs.push([]);
    runs.at(-1)!.push(event);
  }
  return runs;
}

describe('setup progress (CompileOptions.onProgress)', () => {
  test('fit tells each part of a plan compiled, n of m up to m, and the data uploaded, before its first step', async () => {
    const events: SetupProgress[] = [];
    let firstStepAt = -1;
    const m = await model({ onProgress: (p) => events.push(p), autotune: 'off' });
    const { x, y } = data(50);
    // 50 rows in batches of 16: a plan for 16 rows and one for the last 2.
    await m.fit(x, y, { epochs: 1, batchSize: 16, callbacks: { onTrainBatchEnd: () => void (firstStepAt < 0 && (firstStepAt = events.length)) } });
    expect(firstStepAt).toBe(events.length);
    const upload = runsOf(events, 'upload');
    expect(upload).toHaveLength(1);
    expect(upload[0].map((e) => [e.done, e.total])).toEqual([[0, 1], [1, 1]]);
    expect(upload[0][0].what).toBe('50 rows of inputs [6] as float32 (0.0 MB)');
    const plans = runsOf(events, 'compile');
    expect(plans).toHaveLength(2);
    // Three layers forward and backward, the loss and the optimizer: 8 parts.
    for (const plan of plans) {
      expect(plan.map((e) => e.done)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      expect(plan.every((e) => e.total === 8)).toBe(true);
    }
    expect(plans[0].map((e) => e.what)).toEqual([
      'layer 0 (flatten) forward, batch 16',
      'layer 1 (dense) forward, batch 16',
      'layer 2 (dense) forward, batch 16',
      'layer 2 (dense) backward, batch 16',
      'layer 1 (dense) backward, batch 16',
      'layer 0 (flatten) backward, batch 16',
      'the loss, batch 16',
      'the optimizer, batch 16',
      'the plan for batches of 16',
    ]);
    expect(plans[1][0].what).toBe('layer 0 (flatten) forward, batch 2');
    expect(describeSetup(plans[0][3])).toBe('compiling kernels (3 of 8 parts done): layer 2 (dense) backward, batch 16');
    // With autotune off, nothing is timed.
    expect(events.filter((e) => e.stage === 'tune')).toEqual([]);
    m.destroy();
  });

  test('the autotuner tells each kernel shape and variant it times, n of m up to m, then the fastest timed again', async () => {
    const events: SetupProgress[] = [];
    const m = await model({ onProgress: (p) => events.push(p), autotune: 'full', tuningStore: memoryStore() });
    const { x, y } = data(32);
    await m.evaluate(x, y, { batchSize: 32 });
    const tune = events.filter((e) => e.stage === 'tune');
    const shapes = new Set(m.tuning!.choices.map((c) => `${c.kernel} ${c.shape}`));
    expect(shapes.size).toBeGreaterThan(0);
    const last = tune.at(-1)!;
    expect([last.done, last.total, last.what]).toEqual([shapes.size, shapes.size, 'each kernel shape timed']);
    for (const event of tune.slice(0, -1)) {
      expect(event.total).toBe(shapes.size);
      expect(event.done).toBeLessThan(shapes.size);
      expect(event.what).toMatch(/^\w+\.wgsl:\w+ .+, (variant|the fastest again,) \d+ of \d+ \(.+\)$/);
    }
    // Each shape's variants, from the first, in order; then its three fastest (of two or more) twice more each.
    const counts = (kind: string) => tune.filter((e) => e.done === 0 && e.what.includes(`, ${kind} `)).map((e) => /(\d+) of (\d+) \(/.exec(e.what)!.slice(1).map(Number));
    const first = counts('variant');
    expect(first.map(([i]) => i)).toEqual(first.map((_, i) => i + 1));
    expect(first.length).toBe(first[0][1]);
    const again = counts('the fastest again,');
    const contenders = Math.min(3, first.length);
    expect(again).toEqual(contenders > 1 ? Array.from({ length: 2 * contenders }, (_, i) => [i + 1, 2 * contenders]) : []);
    m.destroy();
  });
});

describe('fit and evaluate count steps, not their set-up', () => {
  test("onTrainBatchEnd's seconds and msPerStep are the steps' time, from the first step", async () => {
    const m = await model({ autotune: 'off' });
    const { x, y } = data(64);
    const seen: { step: number; seconds: number; msPerStep: number }[] = [];
    const started = performance.now();
    let epochBegan = 0;
    await m.fit(x, y, {
      epochs: 1,
      batchSize: 8,
      updateEvery: 2,
      callbacks: {
        onEpochBegin: () => void (epochBegan = performance.now()),
        onTrainBatchEnd: (step, _logs, { seconds, msPerStep }) => void seen.push({ step, seconds, msPerStep }),
      },
    });
    const total = (performance.now() - started) / 1000;
    expect(seen.map((s) => s.step)).toEqual([1, 3, 5, 7]);
    for (const { step, seconds, msPerStep } of seen) {
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(total);
      expect(msPerStep).toBeCloseTo((seconds * 1000) / (step + 1), 6);
    }
    // The plan was made after onEpochBegin and before the first step: not counted.
    expect(epochBegan).toBeGreaterThan(0);
    m.destroy();
  });

  test('evaluate tells its progress to onTestBatchEnd, and stopEvaluating stops it with the means so far', async () => {
    const m = await model({ autotune: 'off' });
    const { x, y } = data(200);
    const whole = await m.evaluate(x, y, { batchSize: 5 });
    // 40 steps: a progress update every 2.
    const batches: number[] = [];
    let ended: Record<string, number> | undefined;
    const logs = await m.evaluate(x, y, { batchSize: 5, callbacks: { onTestBatchEnd: (batch) => void batches.push(batch), onTestEnd: (l) => void (ended = l) } });
    expect(batches).toEqual(Array.from({ length: 20 }, (_, i) => 2 * i + 1));
    expect(logs).toEqual(whole);
    expect(ended).toEqual(whole);

    const stoppedAt: { batch: number; logs: Record<string, number> }[] = [];
    const stopped = await m.evaluate(x, y, {
      batchSize: 5,
      callbacks: {
        onTestBatchEnd: (batch, l) => {
          stoppedAt.push({ batch, logs: l });
          m.stopEvaluating = true;
        },
      },
    });
    // Stopped after the steps already submitted: fewer than all, and the means over those rows.
    const last = stoppedAt.at(-1)!;
    expect(last.batch).toBeLessThan(39);
    expect(stopped).toEqual(last.logs);
    const rows = (last.batch + 1) * 5;
    const prefix = await m.evaluate(x.subarray(0, rows * FEATURES), y.subarray(0, rows), { batchSize: 5 });
    expect(stopped.loss).toBeCloseTo(prefix.loss, 5);
    expect(stopped.accuracy).toBeCloseTo(prefix.accuracy, 6);
    // The next evaluate starts afresh.
    expect(await m.evaluate(x, y, { batchSize: 5 })).toEqual(whole);
    m.destroy();
  });

  test("evaluate with verbose 1 prints Keras' bar where the progress writer says; 0, the default, nothing", async () => {
    const m = await model({ autotune: 'off' });
    const { x, y } = data(40);
    const lines: string[] = [];
    const updates: string[] = [];
    setProgressWriter({ update: (text) => void updates.push(text), line: (text) => void lines.push(text) });
    try {
      await m.evaluate(x, y, { batchSize: 8 });
      expect([lines, updates]).toEqual([[], []]);
      const logs = await m.evaluate(x, y, { batchSize: 8, verbose: 1 });
      expect(updates).toHaveLength(5);
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^5/5 ━{20} \\d+s \\d+ms/step - accuracy: ${logs.accuracy.toFixed(4)} - loss: ${logs.loss.toFixed(4)}$`))]);
      await expect(m.evaluate(x, y, { verbose: 2 as 1 })).rejects.toThrow('evaluate(): verbose must be 0 or 1, got 2');
    } finally {
      setProgressWriter(undefined);
      m.destroy();
    }
  });

  test('predict returns its values with their shape, [count, classes]', async () => {
    const m = await model({ autotune: 'off' });
    const { x } = data(7);
    const probabilities = await m.predict(x, { batchSize: 4 });
    expect(probabilities.shape).toEqual([7, CLASSES]);
    expect(probabilities).toBeInstanceOf(Float32Array);
    expect(probabilities.length).toBe(7 * CLASSES);
    m.destroy();
  });
});

describe('figures as the page and the command line print them', () => {
  test.each([
    [640.5293, '640.5'],
    [12.3456, '12.35'],
    [0.083426, '0.08343'],
    [2, '2'],
    [1234.56, '1235'],
  ])('formatMs(%s) is %s', (ms, text) => {
    expect(formatMs(ms)).toBe(text);
  });

  test('runEstimate: none for a run under a minute, else its duration and how it was measured', () => {
    expect(runEstimate({ msPerStep: 10, measured: 24, stepsLeft: 5000 })).toBeNull();
    expect(runEstimate({ msPerStep: 125, measured: 24, stepsLeft: 19_200 })).toBe('about 40 min on this adapter: 125 ms/step measured over the first 24 steps, 19,200 steps to go');
    // As a callback: at the run's first progress update, once.
    const said: string[] = [];
    const estimator = runEstimator({ epochs: 5, steps: 469 }, (text) => void said.push(text));
    for (const batch of [23, 47]) estimator.onTrainBatchEnd!(batch, { loss: 1 }, { epoch: 0, seconds: ((batch + 1) * 125) / 1000, msPerStep: 125 });
    expect(said).toEqual(['about 5 min on this adapter: 125 ms/step measured over the first 24 steps, 2,321 steps to go']);
    expect(formatDuration(90)).toBe('90 s');
    expect(formatDuration(7500)).toBe('2 h 5 min');
    expect(formatDuration(7200)).toBe('2 h');
  });

  test('whyTrainingEnded: all epochs, a stop, early stopping, and the weights restored', () => {
    const history = new History();
    expect(whyTrainingEnded(history, { epochs: 1 })).toBe('ran all 1 epoch');
    const stopper = (of: Partial<EarlyStopping>) => ({ monitor: 'val_loss', patience: 2, restoreBestWeights: false, best: 0.0812, bestEpoch: 4, stoppedEpoch: 0, ...of });
    expect(whyTrainingEnded(history, { epochs: 5, stopper: stopper({}) })).toBe('ran all 5 epochs');
    expect(whyTrainingEnded(history, { epochs: 9, stopper: stopper({ stoppedEpoch: 6 }) })).toBe('early stopping after epoch 7: val_loss had not improved for 2 epochs');
    expect(whyTrainingEnded(history, { epochs: 9, stopper: stopper({ stoppedEpoch: 6, restoreBestWeights: true }) })).toBe(
      'early stopping after epoch 7: val_loss had not improved for 2 epochs; restored the weights of epoch 5, the best val_loss (0.0812)',
    );
    // No epoch ended with the monitored figure: nothing was restored.
    expect(whyTrainingEnded(history, { epochs: 5, stopper: stopper({ restoreBestWeights: true, best: Infinity }) })).toBe('ran all 5 epochs');
    history.stopped = { epoch: 2, reason: 'stopTraining' };
    expect(whyTrainingEnded(history, { epochs: 5 })).toBe('stopped after epoch 3');
  });
});
