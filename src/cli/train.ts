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
  readCheckpoint,
  saveModel,
  stdoutProgress,
  tuningSummary,
  tutorialModel,
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

const USAGE = `usage: npm run train -- [--model cnn|mlp] [--epochs 5] [--batch-size 128] [--limit N]
                        [--seed S] [--data DIR] [--validate] [--save FILE] [--report FILE]
                        [--checkpoint DIR [--checkpoint-every N]] [--resume DIR] [--autotune MODE]
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
  if (values.model !== 'cnn' && values.model !== 'mlp') throw new Error(`--model must be cnn or mlp, got '${values.model}'`);
  return {
    model: values.model as TutorialModel,
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
  const test = take(mnist.test, args.limit);

  const gpu = await defaultGpu();
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed: args.seed, gpu, autotune: args.autotune });
  console.log(model.summary());

  if (resumed) console.log(`resuming from ${resumeFrom.source}: epoch ${resumed.epoch + 1}, step ${resumed.step}/${resumed.steps}`);
  const history = await model.fit(train.x, train.y, {
    epochs: args.epochs,
    batchSize: args.batchSize,
    ...(args.validate && { validationData: [test.x, test.y] as [Uint8Array, Uint8Array] }),
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
      epochs: history.epochs.map((h, i) => ({ epoch: history.epoch[i] + 1, ...h })),
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
