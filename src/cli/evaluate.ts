// `npm run evaluate`: a saved model on MNIST's test set, from the command line.
// The file is checked whole before the data is read or the GPU started.
import { parseArgs } from 'node:util';
import {
  defaultGpu,
  describeAdapter,
  expectImagesFit,
  loadMnist,
  loadModelBytes,
  readModelFile,
} from '../node';
import { readSafetensorsFile } from '../node/files';
import { exitWithParent, integerOption, pathOption } from './args';

const USAGE = `usage: npm run evaluate -- --load FILE [--data DIR] [--batch-size 128] [--limit N]
  --load   a model file written by npm run train -- --save FILE (or the page's save)
  --limit  evaluate on the first N test images only`;

function parse() {
  const { values } = parseArgs({
    options: {
      load: { type: 'string' },
      data: { type: 'string' },
      'batch-size': { type: 'string', default: '128' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const load = pathOption('load', values.load);
  if (load === undefined) throw new Error(`--load FILE is required\n${USAGE}`);
  return { load, data: pathOption('data', values.data), batchSize: integerOption('batch-size', values['batch-size'], 1)!, limit: integerOption('limit', values.limit, 1) };
}

async function main() {
  const args = parse();
  exitWithParent();
  const bytes = await readSafetensorsFile(args.load, 'a model file');
  // The memory the model needs at the batch it will be run at, before the data is read.
  const file = readModelFile(bytes, args.load, { batch: Math.min(args.batchSize, args.limit ?? args.batchSize) });
  const mnist = await loadMnist({ dir: args.data });
  const test = mnist.test;
  expectImagesFit(test, file.inputShape, args.data || process.env.MNIST_DIR || 'MNIST');
  const [outputs] = file.shapes[file.shapes.length - 1].output;
  if (outputs < test.classes) throw new Error(`${args.load}: the model has ${outputs} outputs but the test labels go up to ${test.classes - 1}`);
  const count = Math.min(args.limit ?? test.count, test.count);
  const rowSize = test.height * test.width;
  const x = test.pixels.subarray(0, count * rowSize);
  const y = test.labels.subarray(0, count);

  const gpu = await defaultGpu();
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  const model = await loadModelBytes(bytes, { source: args.load, gpu, metrics: ['accuracy'] });
  console.log(model.summary());
  const evaluation = await model.evaluate(x, y, { batchSize: args.batchSize });
  // A NaN or an infinity in any output makes the loss NaN; the rows that hold one are counted, not scored as class 0.
  if (!Number.isFinite(evaluation.loss)) {
    const values = await model.predict(x, { batchSize: args.batchSize });
    let rows = 0;
    for (let row = 0; row < count; row++) if (!values.subarray(row * outputs, (row + 1) * outputs).every(Number.isFinite)) rows++;
    throw new Error(`${args.load}: the test loss is ${evaluation.loss}: the model's outputs are NaN or infinite for ${rows} of ${count} images`);
  }
  console.log(`test loss: ${evaluation.loss.toFixed(4)} - test accuracy: ${evaluation.accuracy.toFixed(4)} (${count} images)`);
  const probabilities = [...(await model.predict(x.subarray(0, rowSize)))];
  const argmax = probabilities.indexOf(Math.max(...probabilities));
  console.log(`prediction for test image 0: [${probabilities.map((p) => p.toExponential(2)).join(', ')}]`);
  console.log(`argmax ${argmax}, true label ${y[0]}`);
  model.destroy();
  gpu.device.destroy();
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
