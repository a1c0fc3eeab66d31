// `npm run train`: the Keras MNIST tutorial on WebGPU, from the command line.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  autotuneMode,
  defaultGpu,
  earlyStopping,
  describeAdapter,
  expectImagesFit,
  formatChoices,
  loadMnist,
  OPTIMIZER_KINDS as OPTIMIZERS,
  optimizerConfig,
  readCheckpoint,
  reduceLROnPlateau,
  runEstimator,
  saveModel,
  stdoutProgress,
  tuningSummary,
  tutorialModel,
  writeFileAtomically,
  type Callback,
  type CheckpointInfo,
  type Dataset,
  type OptimizerKind,
  type TutorialModel,
} from '../node';
import { checkOutputPath, readNamedFile } from '../node/files';
import { integerOption, numberOption, parseOptions } from './args';
import { dataLine, noticeOnTerminal, setupOnTerminal, testProgress } from './output';

/** The checkpoint's name in a --checkpoint directory: one file, replaced whole at each write. */
const CHECKPOINT_FILE = 'checkpoint.safetensors';

/**
 * The checkpoint in `dir` to resume from. A run killed while writing one
 * leaves its temporary file (and the previous checkpoint, whole): those are removed.
 */
async function readResume(dir: string): Promise<{ bytes: Uint8Array; source: string }> {
  const source = join(dir, CHECKPOINT_FILE);
  for (const name of await readdir(dir).catch(() => [])) {
    if (name.startsWith(`${CHECKPOINT_FILE}.`) && name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
  }
  return { bytes: await readNamedFile(source, 'a checkpoint'), source };
}

const USAGE = `usage: npm run train -- [--model cnn|mlp] [--epochs 5] [--batch-size 128] [--limit N]
                        [--test-limit N] [--seed S] [--data DIR] [--optimizer NAME] [--lr RATE]
                        [--validate | --validation-split F] [--early-stopping PATIENCE]
                        [--reduce-lr-on-plateau] [--save FILE] [--report FILE]
                        [--checkpoint DIR [--checkpoint-every N]] [--resume DIR] [--autotune MODE] [--verbose]
  --limit N           train on the first N training images (all of them by default)
  --test-limit N      test on the first N test images (all of them, 10,000 in MNIST, by default)
  --optimizer NAME    ${OPTIMIZERS.join(', ')} (rmsprop, the tutorial's, by default),
                      with Keras' defaults; --lr RATE sets its learning rate
  --validate          also evaluate on the test set after every epoch (val_loss, val_accuracy)
  --validation-split F  validate on the last fraction F of the training images instead (Keras'
                      validation_split), and train on the rest
  --early-stopping PATIENCE  stop when val_loss has not improved for PATIENCE epochs, and keep
                      the weights of the best epoch (Keras' EarlyStopping, restore_best_weights)
  --reduce-lr-on-plateau  divide the learning rate by 10 when val_loss has not improved for 10
                      epochs (Keras' ReduceLROnPlateau with its defaults)
  --checkpoint DIR    write DIR/${CHECKPOINT_FILE} (whole or not at all) after every epoch,
                      and every N steps with --checkpoint-every N
  --resume DIR        continue the run whose checkpoint is in DIR, exactly as it would have gone on
                      (same --model, --limit and --batch-size); checkpoints go on into DIR
  --autotune MODE     how kernel variants are chosen on this adapter: cached (the default: the
                      choices kept in ~/.cache/webgpu-train/autotune.json, timing what is not
                      there), full (time them all again) or off (the defaults)
  --verbose           list the variant each kernel runs, with every variant's time`;

function parse() {
  const values = parseOptions(
    {
      model: { type: 'string', default: 'cnn' },
      epochs: { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '128' },
      limit: { type: 'string' },
      'test-limit': { type: 'string' },
      seed: { type: 'string' },
      data: { type: 'string' },
      optimizer: { type: 'string', default: 'rmsprop' },
      lr: { type: 'string' },
      validate: { type: 'boolean', default: false },
      'validation-split': { type: 'string' },
      'early-stopping': { type: 'string' },
      'reduce-lr-on-plateau': { type: 'boolean', default: false },
      save: { type: 'string' },
      report: { type: 'string' },
      checkpoint: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'string' },
      autotune: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values['checkpoint-every'] !== undefined && values.checkpoint === undefined && values.resume === undefined) {
    throw new Error('--checkpoint-every needs --checkpoint DIR (or --resume DIR)');
  }
  if (values.model !== 'cnn' && values.model !== 'mlp') throw new Error(`--model must be cnn or mlp, got '${values.model}'`);
  if (!(OPTIMIZERS as readonly string[]).includes(values.optimizer!)) throw new Error(`--optimizer must be one of ${OPTIMIZERS.join(', ')}, got '${values.optimizer}'`);
  const validationSplit = numberOption('validation-split', values['validation-split'], { above: 0, below: 1 });
  if (validationSplit !== undefined && values.validate) throw new Error('--validate and --validation-split each choose the validation data: give one');
  const validated = validationSplit !== undefined || values.validate;
  for (const option of ['early-stopping', 'reduce-lr-on-plateau'] as const) {
    if (values[option] !== undefined && values[option] !== false && !validated) throw new Error(`--${option} watches val_loss: it needs --validation-split F or --validate`);
  }
  return {
    model: values.model as TutorialModel,
    epochs: integerOption('epochs', values.epochs, 1)!,
    batchSize: integerOption('batch-size', values['batch-size'], 1)!,
    limit: integerOption('limit', values.limit, 1),
    testLimit: integerOption('test-limit', values['test-limit'], 1),
    seed: integerOption('seed', values.seed, 0) ?? (Date.now() >>> 0),
    data: values.data,
    optimizer: values.optimizer as OptimizerKind,
    lr: numberOption('lr', values.lr, { above: 0 }),
    validate: values.validate ?? false,
    validationSplit,
    earlyStopping: integerOption('early-stopping', values['early-stopping'], 0),
    reduceLrOnPlateau: values['reduce-lr-on-plateau'] ?? false,
    save: values.save,
    report: values.report,
    checkpoint: values.checkpoint ?? values.resume,
    checkpointEvery: integerOption('checkpoint-every', values['checkpoint-every'], 1),
    resume: values.resume,
    autotune: values.autotune === undefined ? undefined : autotuneMode('--autotune', values.autotune),
    verbose: values.verbose ?? false,
  };
}

/** The first `limit` examples, the pixels as bytes: fit keeps them on the GPU as bytes, a quarter of their floats. */
function take(data: Dataset, limit: number | undefined): { x: Uint8Array; y: Uint8Array } {
  const count = Math.min(limit ?? data.count, data.count);
  return { x: data.pixels.subarray(0, count * data.height * data.width), y: data.labels.subarray(0, count) };
}

async function main() {
  const args = parse();
  // Checked now, not after the training whose result they are to hold.
  if (args.save) await checkOutputPath(args.save, '--save');
  if (args.report) await checkOutputPath(args.report, '--report');
  if (args.checkpoint && !args.resume) await mkdir(args.checkpoint, { recursive: true }).catch(() => undefined);
  if (args.checkpoint) await checkOutputPath(join(args.checkpoint, CHECKPOINT_FILE), args.resume ? '--resume' : '--checkpoint');
  const resumeFrom = args.resume ? await readResume(args.resume) : undefined;
  const resumed = resumeFrom && readCheckpoint(resumeFrom.bytes, resumeFrom.source).run;
  const mnist = await loadMnist({ dir: args.data });
  const model = tutorialModel(args.model, mnist.train.classes);
  expectImagesFit(mnist.train, model.inputShape, args.data || process.env.MNIST_DIR || 'MNIST');
  const train = take(mnist.train, args.limit);
  const test = take(mnist.test, args.testLimit);
  console.log(dataLine(mnist, { train: train.y.length, test: test.y.length }));

  const gpu = await defaultGpu();
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  const optimizer = optimizerConfig(args.optimizer, args.lr === undefined ? {} : { learningRate: args.lr });
  model.compile({
    optimizer,
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    seed: args.seed,
    gpu,
    autotune: args.autotune,
    onProgress: setupOnTerminal,
    onTuningNotice: noticeOnTerminal,
  });
  console.log(model.summary());

  const stopper = args.earlyStopping === undefined ? undefined : earlyStopping({ monitor: 'val_loss', patience: args.earlyStopping, restoreBestWeights: true });
  // The rate each epoch ended with, by epoch, for the report.
  const rates: Record<number, number> = {};
  const trainRows = args.validationSplit === undefined ? train.y.length : Math.floor(train.y.length * (1 - args.validationSplit));
  const steps = Math.ceil(trainRows / args.batchSize);
  const callbacks: Callback[] = [
    ...(stopper ? [stopper] : []),
    ...(args.reduceLrOnPlateau ? [reduceLROnPlateau({ monitor: 'val_loss' })] : []),
    { onEpochEnd: (epoch) => void (rates[epoch] = model.learningRate) },
    runEstimator({ epochs: args.epochs, steps }, (estimate) => stdoutProgress.line(estimate)),
  ];
  if (resumed) console.log(`resuming from ${resumeFrom.source}: epoch ${resumed.epoch + 1}, step ${resumed.step}/${resumed.steps}`);
  const history = await model.fit(train.x, train.y, {
    epochs: args.epochs,
    batchSize: args.batchSize,
    ...(args.validate && { validationData: [test.x, test.y] as [Uint8Array, Uint8Array] }),
    validationSplit: args.validationSplit,
    callbacks,
    resumeFrom,
    ...(args.checkpoint && {
      checkpoint: {
        everyEpoch: true,
        everySteps: args.checkpointEvery,
        write: async (bytes: Uint8Array, info: CheckpointInfo) => {
          const path = join(args.checkpoint!, CHECKPOINT_FILE);
          await writeFileAtomically(path, bytes);
          stdoutProgress.line(`checkpoint: epoch ${info.epoch + 1}, step ${info.step}/${info.steps} written to ${path}`);
        },
      },
    }),
  });

  const ended = stopper?.stoppedEpoch
    ? `early stopping after epoch ${stopper.stoppedEpoch + 1}: val_loss had not improved for ${args.earlyStopping} epochs`
    : history.stopped
      ? `stopped after epoch ${history.stopped.epoch + 1}`
      : `ran all ${args.epochs} epochs`;
  const stopped = stopper ? `${ended}; restored the weights of epoch ${stopper.bestEpoch + 1}, the best val_loss (${stopper.best.toFixed(4)})` : ended;
  if (stopper) console.log(`${stopped[0].toUpperCase()}${stopped.slice(1)}.`);
  const tuning = model.tuning;
  if (tuning && tuning.mode !== 'off') {
    stdoutProgress.line(`Kernel variants (${tuningSummary(tuning)})${args.verbose ? `:\n  ${formatChoices(tuning.choices).join('\n  ')}` : '; --verbose lists them'}`);
  }

  const evaluation = await model.evaluate(test.x, test.y, { batchSize: args.batchSize, callbacks: testProgress(Math.ceil(test.y.length / args.batchSize)) });
  stdoutProgress.line(`test loss: ${evaluation.loss.toFixed(4)} - test accuracy: ${evaluation.accuracy.toFixed(4)} (${test.y.length.toLocaleString('en-US')} test images)`);

  const probabilities = [...(await model.predict(test.x.subarray(0, mnist.test.height * mnist.test.width)))];
  const argmax = probabilities.indexOf(Math.max(...probabilities));
  stdoutProgress.line(`prediction for test image 0: [${probabilities.map((p) => p.toExponential(2)).join(', ')}]`);
  console.log(`argmax ${argmax}, true label ${test.y[0]}`);

  if (args.save) {
    await saveModel(model, args.save);
    console.log(`saved ${args.save}`);
  }
  if (args.report) {
    const report = {
      args,
      adapter: gpu.adapter,
      officialMnist: mnist.official,
      trainImages: train.y.length,
      testImages: test.y.length,
      params: model.paramCount,
      epochs: history.epochs.map((h, i) => ({ epoch: history.epoch[i] + 1, learningRate: rates[history.epoch[i]], ...h })),
      stopped,
      test: evaluation,
      prediction: { image: 0, probabilities, argmax, label: test.y[0] },
      tuning,
    };
    await writeFileAtomically(args.report, JSON.stringify(report, null, 2) + '\n');
    console.log(`report written to ${args.report}`);
  }
  model.destroy();
  gpu.device.destroy();
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
