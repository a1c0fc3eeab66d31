// `npm run train`: the Keras MNIST tutorial on WebGPU, from the command line.
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
  Model,
  readAnyModelFile,
  readCheckpoint,
  saveModel,
  savedFormat,
  tuningSummary,
  tutorialModel,
  writeFileAtomically,
  type CheckpointInfo,
  type Dataset,
  type EpochLogs,
  type Logs,
  type TutorialModel,
} from '../node';
import { checkOutputPath, readNamedFile } from '../node/files';
import { integerOption, pixelInputs, pixelsOption, type PixelScale } from './args';

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

const USAGE = `usage: npm run train -- [--model cnn|mlp | --from FILE [--pixels unit|raw]] [--epochs 5]
                        [--batch-size 128] [--limit N] [--seed S] [--data DIR] [--validate]
                        [--save FILE] [--report FILE] [--checkpoint DIR [--checkpoint-every N]]
                        [--resume DIR] [--autotune MODE]
  --from FILE         fine-tune a saved model instead of training the tutorial's: a model file
                      of ours, or a Keras .keras or .h5 file (told apart by their contents)
  --pixels            unit (the default): pixels / 255, as the Keras tutorial scales them;
                      raw: 0..255, for a model trained on unscaled pixels
  --save FILE         write the trained model: a Keras 3 .keras file when FILE ends in .keras,
                      else a webgpu-train model file (.safetensors)
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
      model: { type: 'string' },
      from: { type: 'string' },
      pixels: { type: 'string' },
      epochs: { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '128' },
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
  if (values.model !== undefined && values.from !== undefined) throw new Error('--model and --from both give the model: use one');
  const model = values.model ?? 'cnn';
  if (model !== 'cnn' && model !== 'mlp') throw new Error(`--model must be cnn or mlp, got '${model}'`);
  return {
    model: model as TutorialModel,
    from: values.from,
    pixels: pixelsOption(values.pixels),
    epochs: integerOption('epochs', values.epochs, 1)!,
    batchSize: integerOption('batch-size', values['batch-size'], 1)!,
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
 * Keras' progress line, `469/469 ━━━━━━━━━━━━━━━━━━━━ 4s 8ms/step - accuracy: 0.9939 - loss: 0.0196`,
 * with the figures Keras prints (logs.keras); at an epoch's end the epoch's mean follows.
 */
function progressLine(step: number, steps: number, seconds: number, msPerStep: number, logs: Logs & Partial<EpochLogs>): string {
  const width = 20;
  const done = Math.round((width * step) / steps);
  const bar = '━'.repeat(done) + (process.stdout.isTTY ? `\x1b[2m${'━'.repeat(width - done)}\x1b[0m` : ' '.repeat(width - done));
  const pad = String(steps).length;
  const validation = logs.valLoss === undefined ? '' : ` - val_accuracy: ${logs.valAccuracy!.toFixed(4)} - val_loss: ${logs.valLoss.toFixed(4)}`;
  const printed = logs.keras ?? logs;
  const mean = logs.msPerStep === undefined ? '' : ` (epoch mean: accuracy ${logs.accuracy.toFixed(4)}, loss ${logs.loss.toFixed(4)})`;
  return `${String(step).padStart(pad)}/${steps} ${bar} ${Math.round(seconds)}s ${Math.round(msPerStep)}ms/step - accuracy: ${printed.accuracy.toFixed(4)} - loss: ${printed.loss.toFixed(4)}${validation}${mean}`;
}

/** The first `limit` examples; unit pixels stay bytes: fit keeps them on the GPU as bytes, a quarter of their floats. */
function take(data: Dataset, limit: number | undefined, pixels: PixelScale): { x: Uint8Array | Float32Array; y: Uint8Array } {
  const count = Math.min(limit ?? data.count, data.count);
  return { x: pixelInputs(data.pixels.subarray(0, count * data.height * data.width), pixels), y: data.labels.subarray(0, count) };
}

async function main() {
  const args = parse();
  // Checked now, not after the training whose result they are to hold.
  if (args.save) {
    savedFormat(args.save);
    await checkOutputPath(args.save, '--save');
  }
  if (args.report) await checkOutputPath(args.report, '--report');
  if (args.checkpoint && !args.resume) await mkdir(args.checkpoint, { recursive: true }).catch(() => undefined);
  if (args.checkpoint) await checkOutputPath(join(args.checkpoint, CHECKPOINT_FILE), args.resume ? '--resume' : '--checkpoint');
  const resumeFrom = args.resume ? await readResume(args.resume) : undefined;
  const resumed = resumeFrom && readCheckpoint(resumeFrom.bytes, resumeFrom.source).run;
  const from = args.from ? await readAnyModelFile(await readNamedFile(args.from, 'a model file'), args.from) : undefined;
  for (const note of from?.notes ?? []) console.log(`note: ${note}`);
  const mnist = await loadMnist({ dir: args.data });
  const model = from ? new Model(from.layers, from.inputShape) : tutorialModel(args.model, mnist.train.classes);
  expectImagesFit(mnist.train, model.inputShape, args.data || process.env.MNIST_DIR || 'MNIST');
  const train = take(mnist.train, args.limit, args.pixels);
  const test = take(mnist.test, args.limit, args.pixels);

  const gpu = await defaultGpu();
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed: args.seed, gpu, autotune: args.autotune });
  // After compile, which starts the model afresh.
  if (from) await model.setWeights(from.weights);
  console.log(model.summary());

  const steps = Math.ceil(train.y.length / args.batchSize);
  if (resumed) console.log(`resuming from ${resumeFrom.source}: epoch ${resumed.epoch + 1}, step ${resumed.step}/${resumed.steps}`);
  if ((resumed?.epoch ?? 0) < args.epochs) console.log(`Epoch ${(resumed?.epoch ?? 0) + 1}/${args.epochs}`);
  let epochStart = performance.now();
  const history = await model.fit(train.x, train.y, {
    epochs: args.epochs,
    batchSize: args.batchSize,
    ...(args.validate && { validationData: [test.x, test.y] as [Uint8Array | Float32Array, Uint8Array] }),
    resumeFrom,
    ...(args.checkpoint && {
      checkpoint: {
        everyEpoch: true,
        everySteps: args.checkpointEvery,
        write: async (bytes: Uint8Array, info: CheckpointInfo) => {
          const path = join(args.checkpoint!, CHECKPOINT_FILE);
          await writeFileAtomically(path, bytes);
          const line = `checkpoint: epoch ${info.epoch + 1}, step ${info.step}/${info.steps} written to ${path}`;
          process.stdout.write(process.stdout.isTTY ? `\r${line}\x1b[K\n` : `${line}\n`);
        },
      },
    }),
    onBatchEnd: (step, logs) => {
      if (!process.stdout.isTTY) return;
      const seconds = (performance.now() - epochStart) / 1000;
      process.stdout.write(`\r${progressLine(step + 1, steps, seconds, (seconds * 1000) / (step + 1), logs)}\x1b[K`);
    },
    onEpochEnd: (epoch, logs: EpochLogs) => {
      const line = progressLine(steps, steps, (logs.msPerStep * steps) / 1000, logs.msPerStep, logs);
      process.stdout.write(process.stdout.isTTY ? `\r${line}\x1b[K\n` : `${line}\n`);
      if (epoch + 1 < args.epochs) console.log(`Epoch ${epoch + 2}/${args.epochs}`);
      epochStart = performance.now();
    },
  });

  const tuning = model.tuning;
  if (tuning && tuning.mode !== 'off') console.log(`Kernel variants (${tuningSummary(tuning)}):\n  ${formatChoices(tuning.choices).join('\n  ')}`);

  const evaluation = await model.evaluate(test.x, test.y, { batchSize: args.batchSize });
  console.log(`test loss: ${evaluation.loss.toFixed(4)} - test accuracy: ${evaluation.accuracy.toFixed(4)}`);

  const probabilities = [...(await model.predict(test.x.subarray(0, mnist.test.height * mnist.test.width)))];
  const argmax = probabilities.indexOf(Math.max(...probabilities));
  console.log(`prediction for test image 0: [${probabilities.map((p) => p.toExponential(2)).join(', ')}]`);
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
      epochs: history.map((h, i) => ({ epoch: i + 1, ...h })),
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
