// `npm run train`: the Keras MNIST tutorial on WebGPU, from the command line,
// and the Keras blog's autoencoder on the same images.
import {
  autotuneMode,
  checkResumable,
  defaultGpu,
  earlyStopping,
  describeAdapter,
  expectImagesFit,
  formatChoices,
  loadMnist,
  Model,
  readAnyModelFile,
  lossConfig,
  LOSSES,
  OPTIMIZER_KINDS as OPTIMIZERS,
  LOSS_SCALE_DEFAULTS,
  PRECISIONS,
  learningRateSchedule,
  optimizerConfig,
  readCheckpoint,
  reduceLROnPlateau,
  saveModel,
  savedFormat,
  stdoutProgress,
  tuningSummary,
  tutorialModel,
  runEstimator,
  tutorialRecipe,
  whyTrainingEnded,
  writeFileAtomically,
  type Callback,
  type CheckpointInfo,
  type Dataset,
  type LayerConfig,
  type LearningRateSchedule,
  type OptimizerKind,
  type Precision,
  type TutorialModel,
} from '../node';
import { CHECKPOINT_FILE, openCheckpointDirectory, type CheckpointDirectory } from '../node/checkpointDirectory';
import { checkOutputPath, readModelFileBytes } from '../node/files';
import { exitWithParent, integerOption, numberOption, parseOptions, pathOption, pixelInputs, pixelsOption, type PixelScale } from './args';
import { dataLine, noticeOnTerminal, setupOnTerminal, testProgress } from './output';

/**
 * The checkpoint to resume from, checked before the data is read and the GPU
 * started against what this command line will train: the model, the
 * optimizer, the batch size and (when --limit is given) the data size.
 */
async function readResume(
  checkpoints: CheckpointDirectory,
  args: ReturnType<typeof parse>,
  fineTuned: { inputShape: number[]; layers: LayerConfig[] } | undefined,
): Promise<{ bytes: Uint8Array; source: string }> {
  const from = await checkpoints.readResume();
  const checkpoint = readCheckpoint(from.bytes, from.source);
  // The classes come from the data: the checkpoint's are taken, and the data checked against them in fit.
  const classes = checkpoint.architecture.layers.at(-1)?.type === 'dense' ? (checkpoint.architecture.layers.at(-1) as { units: number }).units : undefined;
  const architecture = fineTuned ?? tutorialModel(args.model, classes);
  const target = {
    architecture,
    optimizer: optimizerOf(args),
    precision: precisionOf(args),
    loss: lossConfig(args.loss, '--loss'),
    metrics: recipeOf(args).metrics,
    batchSize: args.batchSize,
  };
  checkResumable(checkpoint, target, '--resume');
  if (args.limit !== undefined && checkpoint.run.samples > args.limit) {
    throw new Error(`--resume: cannot resume from ${from.source}: it was written training on ${checkpoint.run.samples} samples, not --limit ${args.limit}`);
  }
  return from;
}

/** How the model is trained: the tutorial's recipe for its model; a fine-tuned file (--from) as the tutorial's classifiers. */
function recipeOf(args: { model: TutorialModel; from?: string }) {
  return tutorialRecipe(args.from === undefined ? args.model : 'mlp');
}

/** The optimizer the command line asks for, with Keras' defaults but for --lr. */
function optimizerOf(args: { optimizer: OptimizerKind; lr?: number; schedule?: string }) {
  const rate = args.lr ?? (optimizerConfig(args.optimizer).learningRate as number);
  return optimizerConfig(args.optimizer, { learningRate: args.schedule === undefined ? rate : scheduleOf(args.schedule, rate) });
}

/** The precision the command line asks for, as the model reports it: mixed with Keras' loss scaling. */
function precisionOf(args: { precision: Precision }) {
  return { precision: args.precision, ...(args.precision === 'mixed' && { lossScale: LOSS_SCALE_DEFAULTS }) };
}

const SCHEDULES = { exponential: 'exponentialDecay', cosine: 'cosineDecay', piecewise: 'piecewiseConstantDecay' } as const;

/**
 * `--schedule NAME,setting=value,...` as a learning-rate schedule from `rate`
 * (--lr, or the optimizer's): Keras' settings by name, lists with ':' between
 * values (`piecewise,boundaries=469:938,values=0.001:0.0005:0.0001`).
 */
function scheduleOf(text: string, rate: number): LearningRateSchedule {
  const [name, ...pairs] = text.split(',');
  if (!Object.hasOwn(SCHEDULES, name)) throw new Error(`--schedule must start with one of ${Object.keys(SCHEDULES).join(', ')}, got '${name}'`);
  const value = (setting: string, written: string): number | boolean | number[] => {
    if (written === 'true' || written === 'false') return written === 'true';
    const numbers = written.split(':').map((part) => (/^(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(part) ? Number(part) : NaN));
    if (numbers.some(Number.isNaN)) throw new Error(`--schedule: ${setting} must be a number, a list of numbers (a:b:c) or true/false, got '${written}'`);
    return setting === 'boundaries' || setting === 'values' ? numbers : numbers[0];
  };
  const settings: Record<string, unknown> = name === 'piecewise' ? {} : { initialLearningRate: rate };
  for (const pair of pairs) {
    const [setting, written] = pair.split('=');
    if (!setting || written === undefined) throw new Error(`--schedule: '${pair}' is not setting=value`);
    settings[setting] = value(setting, written);
  }
  return learningRateSchedule(SCHEDULES[name as keyof typeof SCHEDULES], settings);
}

/** Test images whose reconstructions an autoencoder's report holds. */
const RECONSTRUCTIONS = 8;

const USAGE = `usage: npm run train -- [--model cnn|mlp|autoencoder | --from FILE [--pixels unit|raw]] [--loss NAME]
                        [--epochs 5] [--batch-size B] [--limit N] [--test-limit N] [--seed S] [--data DIR]
                        [--optimizer NAME] [--lr RATE]
                        [--validate | --validation-split F] [--early-stopping PATIENCE]
                        [--schedule SPEC] [--reduce-lr-on-plateau] [--save FILE] [--report FILE]
                        [--checkpoint DIR [--checkpoint-every N]] [--resume DIR] [--autotune MODE]
                        [--precision float32|mixed] [--verbose]
  --model             the Keras tutorial's cnn or mlp (rmsprop, sparse cross-entropy, accuracy, batches
                      of 128), or the Keras blog's autoencoder (784 -> 32 -> 784, adam, binary
                      cross-entropy, mse as a metric, batches of 256), which learns the images themselves
  --from FILE         fine-tune a saved model instead (as a classifier, like the tutorial's): a model
                      file of ours, or a Keras .keras or .h5 file (told apart by their contents)
  --pixels            unit (the default): pixels / 255, as the Keras tutorial scales them;
                      raw: 0..255, for a model trained on unscaled pixels
  --limit N           train on the first N training images (all of them by default)
  --test-limit N      test on the first N test images (all of them, 10,000 in MNIST, by default)
  --loss NAME         train with this loss instead of the model's own: ${LOSSES.join(', ')}
                      (or mse, mae); a classifier's targets are then one-hot rows of its labels
  --optimizer NAME    ${OPTIMIZERS.join(', ')} (the model's own by default),
                      with Keras' defaults; --lr RATE sets its learning rate
  --validate          also evaluate on the test set after every epoch (val_loss, val_accuracy)
  --validation-split F  validate on the last fraction F of the training images instead (Keras'
                      validation_split), and train on the rest
  --early-stopping PATIENCE  stop when val_loss has not improved for PATIENCE epochs, and keep
                      the weights of the best epoch (Keras' EarlyStopping, restore_best_weights)
  --schedule SPEC     a learning-rate schedule from --lr (Keras' settings, computed on the GPU):
                      exponential,decaySteps=469,decayRate=0.9[,staircase=true]
                      cosine,decaySteps=2345[,alpha=0.1][,warmupTarget=0.002,warmupSteps=469]
                      piecewise,boundaries=938:1876,values=0.001:0.0005:0.0001
                      (469 steps make an epoch of MNIST at batch 128)
  --reduce-lr-on-plateau  divide the learning rate by 10 when val_loss has not improved for 10
                      epochs (Keras' ReduceLROnPlateau with its defaults)
  --save FILE         write the trained model: a Keras 3 .keras file when FILE ends in .keras,
                      else a webgpu-train model file (.safetensors)
  --checkpoint DIR    write DIR/${CHECKPOINT_FILE} (whole or not at all) after every epoch,
                      and every N steps with --checkpoint-every N
  --resume DIR        continue the run whose checkpoint is in DIR, exactly as it would have gone on
                      (same --model, --limit and --batch-size); checkpoints go on into DIR
  --autotune MODE     how kernel variants are chosen on this adapter: cached (the default: the
                      choices kept in ~/.cache/webgpu-train/autotune.json, timing what is not
                      there), full (time them all again) or off (the defaults)
  --precision P       float32 (the default) or mixed, Keras' mixed_float16: products in f16
                      where the adapter has shader-f16 (f16 kernel variants, tuned against the
                      f32 ones), weights and sums in f32, the loss scaled dynamically from 2^15
  --verbose           list the variant each kernel runs, with every variant's time`;

function parse() {
  const values = parseOptions(
    {
      model: { type: 'string' },
      from: { type: 'string' },
      pixels: { type: 'string' },
      loss: { type: 'string' },
      epochs: { type: 'string', default: '5' },
      'batch-size': { type: 'string' },
      limit: { type: 'string' },
      'test-limit': { type: 'string' },
      seed: { type: 'string' },
      data: { type: 'string' },
      optimizer: { type: 'string' },
      lr: { type: 'string' },
      validate: { type: 'boolean', default: false },
      'validation-split': { type: 'string' },
      'early-stopping': { type: 'string' },
      'reduce-lr-on-plateau': { type: 'boolean', default: false },
      schedule: { type: 'string' },
      save: { type: 'string' },
      report: { type: 'string' },
      checkpoint: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'string' },
      autotune: { type: 'string' },
      precision: { type: 'string', default: 'float32' },
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
  if (values.model !== undefined && values.from !== undefined) throw new Error('--model and --from both give the model: use one');
  const model = (values.model ?? 'cnn') as TutorialModel;
  if (!['cnn', 'mlp', 'autoencoder'].includes(model)) throw new Error(`--model must be cnn, mlp or autoencoder, got '${model}'`);
  if (!(PRECISIONS as readonly string[]).includes(values.precision!)) throw new Error(`--precision must be one of ${PRECISIONS.join(', ')}, got '${values.precision}'`);
  const pixels = pixelsOption(values.pixels);
  if (model === 'autoencoder' && pixels === 'raw') throw new Error('--pixels raw: the autoencoder learns pixels / 255, the targets its sigmoid can reach');
  const recipe = tutorialRecipe(values.from === undefined ? model : 'mlp');
  const optimizer = values.optimizer ?? recipe.optimizer;
  if (!(OPTIMIZERS as readonly string[]).includes(optimizer)) throw new Error(`--optimizer must be one of ${OPTIMIZERS.join(', ')}, got '${optimizer}'`);
  const validationSplit = numberOption('validation-split', values['validation-split'], { above: 0, below: 1 });
  if (validationSplit !== undefined && values.validate) throw new Error('--validate and --validation-split each choose the validation data: give one');
  const validated = validationSplit !== undefined || values.validate;
  if (values.schedule !== undefined && values['reduce-lr-on-plateau']) throw new Error('--reduce-lr-on-plateau sets the rate a --schedule computes: give one');
  for (const option of ['early-stopping', 'reduce-lr-on-plateau'] as const) {
    if (values[option] !== undefined && values[option] !== false && !validated) throw new Error(`--${option} watches val_loss: it needs --validation-split F or --validate`);
  }
  const args = {
    model,
    from: pathOption('from', values.from),
    pixels,
    loss: lossConfig(values.loss ?? recipe.loss, '--loss').kind,
    epochs: integerOption('epochs', values.epochs, 1)!,
    batchSize: integerOption('batch-size', values['batch-size'], 1) ?? recipe.batchSize,
    limit: integerOption('limit', values.limit, 1),
    testLimit: integerOption('test-limit', values['test-limit'], 1),
    // The model's generator takes a u32: a larger seed would wrap to another.
    seed: integerOption('seed', values.seed, 0, 2 ** 32 - 1) ?? (Date.now() >>> 0),
    data: pathOption('data', values.data),
    optimizer: optimizer as OptimizerKind,
    lr: numberOption('lr', values.lr, { above: 0 }),
    validate: values.validate ?? false,
    validationSplit,
    earlyStopping: integerOption('early-stopping', values['early-stopping'], 0),
    reduceLrOnPlateau: values['reduce-lr-on-plateau'] ?? false,
    schedule: values.schedule,
    save: pathOption('save', values.save),
    report: pathOption('report', values.report),
    checkpoint: pathOption('checkpoint', values.checkpoint) ?? pathOption('resume', values.resume),
    checkpointEvery: integerOption('checkpoint-every', values['checkpoint-every'], 1),
    resume: values.resume,
    autotune: values.autotune === undefined ? undefined : autotuneMode('--autotune', values.autotune),
    precision: values.precision as Precision,
    verbose: values.verbose ?? false,
  };
  // The optimizer and its schedule, checked now, before anything is loaded.
  optimizerOf(args);
  return args;
}

/**
 * The first `limit` examples, the pixels as bytes (fit keeps them on the GPU as
 * bytes, a quarter of their floats), and what the loss compares the model's
 * outputs with: the labels, their one-hot rows (a classifier's other losses),
 * or the images themselves (an autoencoder's).
 */
function take(data: Dataset, limit: number | undefined, { targets, pixels }: { targets: 'labels' | 'one-hot' | 'images'; pixels: PixelScale }) {
  const count = Math.min(limit ?? data.count, data.count);
  const bytes = data.pixels.subarray(0, count * data.height * data.width);
  const x = pixelInputs(bytes, pixels);
  const labels = data.labels.subarray(0, count);
  const oneHot = () => {
    const rows = new Float32Array(count * data.classes);
    labels.forEach((label, i) => (rows[i * data.classes + label] = 1));
    return rows;
  };
  return { x, labels, y: targets === 'images' ? bytes : targets === 'one-hot' ? oneHot() : labels };
}

async function main() {
  const args = parse();
  exitWithParent();
  // Checked now, not after the training whose result they are to hold.
  if (args.save !== undefined) {
    savedFormat(args.save);
    await checkOutputPath(args.save, '--save');
  }
  if (args.report !== undefined) await checkOutputPath(args.report, '--report');
  const from = args.from === undefined ? undefined : await readAnyModelFile(await readModelFileBytes(args.from), args.from, { batch: args.batchSize });
  for (const note of from?.notes ?? []) console.log(`note: ${note}`);
  const what = args.resume ? '--resume' : '--checkpoint';
  const checkpoints = args.checkpoint === undefined ? undefined : await openCheckpointDirectory(args.checkpoint, { resume: !!args.resume, what });
  if (checkpoints) await checkOutputPath(checkpoints.path, what);
  const resumeFrom = checkpoints && args.resume ? await readResume(checkpoints, args, from) : undefined;
  const resumed = resumeFrom && readCheckpoint(resumeFrom.bytes, resumeFrom.source).run;
  const mnist = await loadMnist({ dir: args.data });
  const model = from ? new Model(from.layers, from.inputShape) : tutorialModel(args.model, mnist.train.classes);
  expectImagesFit(mnist.train, model.inputShape, args.data || process.env.MNIST_DIR || 'MNIST');
  const recipe = recipeOf(args);
  const targets = recipe.targets === 'images' ? 'images' : args.loss === 'sparseCategoricalCrossentropy' ? 'labels' : 'one-hot';
  const train = take(mnist.train, args.limit, { targets, pixels: args.pixels });
  const test = take(mnist.test, args.testLimit, { targets, pixels: args.pixels });
  console.log(dataLine(mnist, { train: train.labels.length, test: test.labels.length }));

  const gpu = await defaultGpu();
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  model.compile({
    optimizer: optimizerOf(args),
    loss: args.loss,
    metrics: recipe.metrics,
    seed: args.seed,
    gpu,
    autotune: args.autotune,
    precision: args.precision,
    onProgress: setupOnTerminal,
    onTuningNotice: noticeOnTerminal,
  });
  if (from) await model.setWeights(from.weights);
  console.log(model.summary());

  const stopper = args.earlyStopping === undefined ? undefined : earlyStopping({ monitor: 'val_loss', patience: args.earlyStopping, restoreBestWeights: true });
  // The rate each epoch ended with, and in mixed precision the loss scale, by epoch, for the report.
  const rates: Record<number, number> = {};
  const lossScales: Record<number, number | null> = {};
  const trainRows = args.validationSplit === undefined ? train.labels.length : Math.floor(train.labels.length * (1 - args.validationSplit));
  const steps = Math.ceil(trainRows / args.batchSize);
  const callbacks: Callback[] = [
    runEstimator({ epochs: args.epochs, steps }, (estimate) => stdoutProgress.line(estimate)),
    ...(stopper ? [stopper] : []),
    ...(args.reduceLrOnPlateau ? [reduceLROnPlateau({ monitor: 'val_loss' })] : []),
    {
      onEpochEnd: async (epoch) => {
        rates[epoch] = await model.readLearningRate();
        lossScales[epoch] = await model.readLossScale();
      },
    },
  ];
  if (resumed) console.log(`resuming from ${resumeFrom.source}: epoch ${resumed.epoch + 1}, step ${resumed.step}/${resumed.steps}`);
  const history = await model.fit(train.x, train.y, {
    epochs: args.epochs,
    batchSize: args.batchSize,
    ...(args.validate && { validationData: [test.x, test.y] as [Uint8Array | Float32Array, ArrayLike<number>] }),
    validationSplit: args.validationSplit,
    callbacks,
    resumeFrom,
    ...(checkpoints && {
      checkpoint: {
        everyEpoch: true,
        everySteps: args.checkpointEvery,
        write: async (bytes: Uint8Array, info: CheckpointInfo) => {
          await checkpoints.write(bytes);
          stdoutProgress.line(`checkpoint: epoch ${info.epoch + 1}, step ${info.step}/${info.steps} written to ${checkpoints.path}`);
        },
      },
    }),
  });

  const stopped = whyTrainingEnded(history, { epochs: args.epochs, stopper });
  if (stopper) console.log(`${stopped[0].toUpperCase()}${stopped.slice(1)}.`);
  const tuning = model.tuning;
  if (tuning && tuning.mode !== 'off') {
    stdoutProgress.line(`Kernel variants (${tuningSummary(tuning)})${args.verbose ? `:\n  ${formatChoices(tuning.choices).join('\n  ')}` : '; --verbose lists them'}`);
  }

  const lossScale = await model.readLossScale();
  if (lossScale !== null) stdoutProgress.line(`loss scale: ${lossScale}`);

  const evaluation = await model.evaluate(test.x, test.y, { batchSize: args.batchSize, callbacks: testProgress(Math.ceil(test.labels.length / args.batchSize)) });
  const figures = Object.entries(evaluation).map(([name, value]) => `test ${name}: ${value.toFixed(4)}`);
  stdoutProgress.line(`${figures.join(' - ')} (${test.labels.length.toLocaleString('en-US')} test images)`);

  const pixels = mnist.test.height * mnist.test.width;
  let prediction: object;
  if (recipe.targets === 'images') {
    // The first test images and their reconstructions, as pixel bytes.
    const shown = Math.min(RECONSTRUCTIONS, test.labels.length);
    const outputs = await model.predict(test.x.subarray(0, shown * pixels));
    const reconstructions = Array.from({ length: shown }, (_, i) => ({
      image: i,
      label: test.labels[i],
      original: Array.from(test.x.subarray(i * pixels, (i + 1) * pixels)),
      reconstruction: Array.from(outputs.subarray(i * pixels, (i + 1) * pixels), (v) => Math.round(v * 255)),
    }));
    const error = outputs.reduce((sum, v, j) => sum + Math.abs(v - test.x[j] / 255), 0) / outputs.length;
    console.log(`reconstructions of test images 0-${shown - 1}: mean |error| ${error.toFixed(4)}`);
    prediction = { reconstructions };
  } else {
    const probabilities = [...(await model.predict(test.x.subarray(0, pixels)))];
    const argmax = probabilities.indexOf(Math.max(...probabilities));
    stdoutProgress.line(`prediction for test image 0: [${probabilities.map((p) => p.toExponential(2)).join(', ')}]`);
    console.log(`argmax ${argmax}, true label ${test.labels[0]}`);
    prediction = { prediction: { image: 0, probabilities, argmax, label: test.labels[0] } };
  }

  if (args.save !== undefined) {
    await saveModel(model, args.save);
    console.log(`saved ${args.save}`);
  }
  if (args.report !== undefined) {
    const report = {
      args,
      adapter: gpu.adapter,
      officialMnist: mnist.official,
      trainImages: train.labels.length,
      testImages: test.labels.length,
      params: model.paramCount,
      epochs: history.epochs.map((h, i) => ({ epoch: history.epoch[i] + 1, learningRate: rates[history.epoch[i]], ...(args.precision === 'mixed' && { lossScale: lossScales[history.epoch[i]] }), ...h })),
      stopped,
      test: evaluation,
      ...prediction,
      tuning,
    };
    await writeFileAtomically(args.report, JSON.stringify(report, null, 2) + '\n');
    console.log(`report written to ${args.report}`);
  }
  model.destroy();
  gpu.device.destroy();
  checkpoints?.release();
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
