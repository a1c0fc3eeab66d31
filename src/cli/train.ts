// `npm run train`: the Keras MNIST tutorial on WebGPU, from the command line,
// and the Keras blog's autoencoder on the same images.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  autotuneMode,
  defaultGpu,
  describeAdapter,
  expectImagesFit,
  formatChoices,
  loadMnist,
  lossConfig,
  LOSSES,
  readCheckpoint,
  saveModel,
  stdoutProgress,
  tuningSummary,
  tutorialModel,
  tutorialRecipe,
  writeFileAtomically,
  type CheckpointInfo,
  type Dataset,
  type TutorialModel,
} from '../node';
import { checkOutputPath, readNamedFile } from '../node/files';
import { integerOption } from './args';

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

/** Test images whose reconstructions an autoencoder's report holds. */
const RECONSTRUCTIONS = 8;

const USAGE = `usage: npm run train -- [--model cnn|mlp|autoencoder] [--loss NAME] [--epochs 5] [--batch-size B]
                        [--limit N] [--seed S] [--data DIR] [--validate] [--save FILE] [--report FILE]
                        [--checkpoint DIR [--checkpoint-every N]] [--resume DIR] [--autotune MODE]
  --model             the Keras tutorial's cnn or mlp (rmsprop, sparse cross-entropy, accuracy, batches
                      of 128), or the Keras blog's autoencoder (784 -> 32 -> 784, adam, binary
                      cross-entropy, mse as a metric, batches of 256), which learns the images themselves
  --loss NAME         train with this loss instead of the model's own: ${LOSSES.join(', ')}
                      (or mse, mae); a classifier's targets are then one-hot rows of its labels
  --validate          also evaluate on the test set after every epoch (val_loss, val_accuracy)
  --checkpoint DIR    write DIR/${CHECKPOINT_FILE} (whole or not at all) after every epoch,
                      and every N steps with --checkpoint-every N
  --resume DIR        continue the run whose checkpoint is in DIR, exactly as it would have gone on
                      (same --model, --limit and --batch-size); checkpoints go on into DIR
  --autotune MODE     how kernel variants are chosen on this adapter: cached (the default: the
                      choices kept in ~/.cache/webgpu-train/autotune.json, timing what is not
                      there), full (time them all again) or off (the defaults)`;

function parse() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'cnn' },
      loss: { type: 'string' },
      epochs: { type: 'string', default: '5' },
      'batch-size': { type: 'string' },
      limit: { type: 'string' },
      seed: { type: 'string' },
      data: { type: 'string' },
      validate: { type: 'boolean', default: false },
      save: { type: 'string' },
      report: { type: 'string' },
      checkpoint: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'string' },
      autotune: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values['checkpoint-every'] !== undefined && values.checkpoint === undefined && values.resume === undefined) {
    throw new Error('--checkpoint-every needs --checkpoint DIR (or --resume DIR)');
  }
  if (!['cnn', 'mlp', 'autoencoder'].includes(values.model!)) throw new Error(`--model must be cnn, mlp or autoencoder, got '${values.model}'`);
  const model = values.model as TutorialModel;
  const recipe = tutorialRecipe(model);
  return {
    model,
    loss: lossConfig(values.loss ?? recipe.loss, '--loss').kind,
    epochs: integerOption('epochs', values.epochs, 1)!,
    batchSize: integerOption('batch-size', values['batch-size'], 1) ?? recipe.batchSize,
    limit: integerOption('limit', values.limit, 1),
    seed: integerOption('seed', values.seed, 0) ?? (Date.now() >>> 0),
    data: values.data,
    validate: values.validate ?? false,
    save: values.save,
    report: values.report,
    checkpoint: values.checkpoint ?? values.resume,
    checkpointEvery: integerOption('checkpoint-every', values['checkpoint-every'], 1),
    resume: values.resume,
    autotune: values.autotune === undefined ? undefined : autotuneMode('--autotune', values.autotune),
  };
}

/**
 * The first `limit` examples, the pixels as bytes (fit keeps them on the GPU as
 * bytes, a quarter of their floats), and what the loss compares the model's
 * outputs with: the labels, their one-hot rows (a classifier's other losses),
 * or the images themselves (an autoencoder's).
 */
function take(data: Dataset, limit: number | undefined, targets: 'labels' | 'one-hot' | 'images') {
  const count = Math.min(limit ?? data.count, data.count);
  const x = data.pixels.subarray(0, count * data.height * data.width);
  const labels = data.labels.subarray(0, count);
  const oneHot = () => {
    const rows = new Float32Array(count * data.classes);
    labels.forEach((label, i) => (rows[i * data.classes + label] = 1));
    return rows;
  };
  return { x, labels, y: targets === 'images' ? x : targets === 'one-hot' ? oneHot() : labels };
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
  const recipe = tutorialRecipe(args.model);
  const targets = recipe.targets === 'images' ? 'images' : args.loss === 'sparseCategoricalCrossentropy' ? 'labels' : 'one-hot';
  const train = take(mnist.train, args.limit, targets);
  const test = take(mnist.test, args.limit, targets);

  const gpu = await defaultGpu();
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  model.compile({ optimizer: recipe.optimizer, loss: args.loss, metrics: recipe.metrics, seed: args.seed, gpu, autotune: args.autotune });
  console.log(model.summary());

  if (resumed) console.log(`resuming from ${resumeFrom.source}: epoch ${resumed.epoch + 1}, step ${resumed.step}/${resumed.steps}`);
  const history = await model.fit(train.x, train.y, {
    epochs: args.epochs,
    batchSize: args.batchSize,
    ...(args.validate && { validationData: [test.x, test.y] as [Uint8Array, ArrayLike<number>] }),
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

  const tuning = model.tuning;
  if (tuning && tuning.mode !== 'off') console.log(`Kernel variants (${tuningSummary(tuning)}):\n  ${formatChoices(tuning.choices).join('\n  ')}`);

  const evaluation = await model.evaluate(test.x, test.y, { batchSize: args.batchSize });
  console.log(Object.entries(evaluation).map(([name, value]) => `test ${name}: ${value.toFixed(4)}`).join(' - '));

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
    console.log(`prediction for test image 0: [${probabilities.map((p) => p.toExponential(2)).join(', ')}]`);
    console.log(`argmax ${argmax}, true label ${test.labels[0]}`);
    prediction = { prediction: { image: 0, probabilities, argmax, label: test.labels[0] } };
  }

  if (args.save) {
    await saveModel(model, args.save);
    console.log(`saved ${args.save}`);
  }
  if (args.report) {
    const report = {
      args,
      adapter: gpu.adapter,
      officialMnist: mnist.official,
      trainImages: train.labels.length,
      testImages: test.labels.length,
      params: model.paramCount,
      epochs: history.epochs.map((h, i) => ({ epoch: history.epoch[i] + 1, ...h })),
      test: evaluation,
      ...prediction,
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
