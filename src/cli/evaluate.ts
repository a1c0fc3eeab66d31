// `npm run evaluate`: a saved model, ours or Keras' (.keras, .h5), on MNIST's
// test set, from the command line. The file is checked whole before the data
// is read or the GPU started.
import {
  defaultGpu,
  describeAdapter,
  expectImagesFit,
  loadMnist,
  modelFromFile,
  readAnyModelFile,
  saveModel,
  savedFormat,
  stdoutProgress,
} from '../node';
import { checkOutputPath, readModelFileBytes } from '../node/files';
import { exitWithParent, integerOption, parseOptions, pathOption, pixelInputs, pixelsOption } from './args';
import { dataLine, noticeOnTerminal, setupOnTerminal, testProgress } from './output';

const USAGE = `usage: npm run evaluate -- --load FILE [--data DIR] [--batch-size 128] [--limit N]
                           [--pixels unit|raw] [--save FILE]
  --load    a model file written by npm run train -- --save FILE (or the page's save), or a
            Keras model: a .keras file (Keras 3, tf.keras 2.13-2.15) or a legacy .h5 file,
            told apart by their contents
  --limit   evaluate on the first N test images only (all of them by default)
  --pixels  unit (the default): pixels / 255, as the Keras tutorial scales them;
            raw: 0..255, for a model trained on unscaled pixels
  --save    write the model again: a Keras 3 .keras file when FILE ends in .keras,
            else a webgpu-train model file (.safetensors)`;

function parse() {
  const values = parseOptions(
    {
      load: { type: 'string' },
      data: { type: 'string' },
      'batch-size': { type: 'string', default: '128' },
      limit: { type: 'string' },
      pixels: { type: 'string' },
      save: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const load = pathOption('load', values.load);
  if (load === undefined) throw new Error(`--load FILE is required\n${USAGE}`);
  return {
    load,
    data: pathOption('data', values.data),
    batchSize: integerOption('batch-size', values['batch-size'], 1)!,
    limit: integerOption('limit', values.limit, 1),
    pixels: pixelsOption(values.pixels),
    save: pathOption('save', values.save),
  };
}

async function main() {
  const args = parse();
  exitWithParent();
  if (args.save !== undefined) {
    savedFormat(args.save);
    await checkOutputPath(args.save, '--save');
  }
  // The memory the model needs at the batch it will be run at, before the data is read.
  const file = await readAnyModelFile(await readModelFileBytes(args.load), args.load, { batch: Math.min(args.batchSize, args.limit ?? args.batchSize) });
  if (file.format !== 'webgpu-train') console.log(`${args.load}: Keras ${file.kerasVersion ?? '(version not given)'} ${file.format === 'keras' ? '.keras' : '.h5'} file`);
  for (const note of file.notes) console.log(`note: ${note}`);
  const mnist = await loadMnist({ dir: args.data });
  const test = mnist.test;
  expectImagesFit(test, file.inputShape, args.data || process.env.MNIST_DIR || 'MNIST');
  const [outputs] = file.shapes[file.shapes.length - 1].output;
  if (outputs < test.classes) throw new Error(`${args.load}: the model has ${outputs} outputs but the test labels go up to ${test.classes - 1}`);
  const count = Math.min(args.limit ?? test.count, test.count);
  const rowSize = test.height * test.width;
  const x = pixelInputs(test.pixels.subarray(0, count * rowSize), args.pixels);
  const y = test.labels.subarray(0, count);
  console.log(dataLine(mnist, { test: count }));

  const gpu = await defaultGpu();
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  const model = await modelFromFile(file, { gpu, metrics: ['accuracy'], onProgress: setupOnTerminal, onTuningNotice: noticeOnTerminal });
  console.log(model.summary());
  const evaluation = await model.evaluate(x, y, { batchSize: args.batchSize, callbacks: testProgress(Math.ceil(count / args.batchSize)) });
  // A NaN or an infinity in any output makes the loss NaN; the rows that hold one are counted, not scored as class 0.
  if (!Number.isFinite(evaluation.loss)) {
    const values = await model.predict(x, { batchSize: args.batchSize });
    let rows = 0;
    for (let row = 0; row < count; row++) if (!values.subarray(row * outputs, (row + 1) * outputs).every(Number.isFinite)) rows++;
    throw new Error(`${args.load}: the test loss is ${evaluation.loss}: the model's outputs are NaN or infinite for ${rows} of ${count} images`);
  }
  const pixels = args.pixels === 'raw' ? ', raw pixels' : '';
  stdoutProgress.line(`test loss: ${evaluation.loss.toFixed(4)} - test accuracy: ${evaluation.accuracy.toFixed(4)} (${count.toLocaleString('en-US')} test images${pixels})`);
  const probabilities = [...(await model.predict(x.subarray(0, rowSize)))];
  const argmax = probabilities.indexOf(Math.max(...probabilities));
  stdoutProgress.line(`prediction for test image 0: [${probabilities.map((p) => p.toExponential(2)).join(', ')}]`);
  console.log(`argmax ${argmax}, true label ${y[0]}`);
  if (args.save !== undefined) {
    await saveModel(model, args.save);
    console.log(`saved ${args.save}`);
  }
  model.destroy();
  gpu.device.destroy();
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
