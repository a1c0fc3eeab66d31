// `npm run evaluate`: a saved model on MNIST's test set, from the command line.
// The file is checked whole before the data is read or the GPU started.
import {
  defaultGpu,
  describeAdapter,
  expectImagesFit,
  loadMnist,
  loadModelBytes,
  readModelFile,
  stdoutProgress,
} from '../node';
import { readNamedFile } from '../node/files';
import { integerOption, parseOptions } from './args';
import { dataLine, noticeOnTerminal, setupOnTerminal, testProgress } from './output';

const USAGE = `usage: npm run evaluate -- --load FILE [--data DIR] [--batch-size 128] [--limit N]
  --load   a model file written by npm run train -- --save FILE (or the page's save)
  --limit  evaluate on the first N test images only (all of them by default)`;

function parse() {
  const values = parseOptions(
    {
      load: { type: 'string' },
      data: { type: 'string' },
      'batch-size': { type: 'string', default: '128' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.load) throw new Error(`--load FILE is required\n${USAGE}`);
  return { load: values.load, data: values.data, batchSize: integerOption('batch-size', values['batch-size'], 1)!, limit: integerOption('limit', values.limit, 1) };
}

async function main() {
  const args = parse();
  const bytes = await readNamedFile(args.load, 'a model file');
  const file = readModelFile(bytes, args.load);
  const mnist = await loadMnist({ dir: args.data });
  const test = mnist.test;
  expectImagesFit(test, file.inputShape, args.data || process.env.MNIST_DIR || 'MNIST');
  const [outputs] = file.shapes[file.shapes.length - 1].output;
  if (outputs < test.classes) throw new Error(`${args.load}: the model has ${outputs} outputs but the test labels go up to ${test.classes - 1}`);
  const count = Math.min(args.limit ?? test.count, test.count);
  const rowSize = test.height * test.width;
  const x = test.pixels.subarray(0, count * rowSize);
  const y = test.labels.subarray(0, count);
  console.log(dataLine(mnist, { test: count }));

  const gpu = await defaultGpu();
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  const model = await loadModelBytes(bytes, { source: args.load, gpu, onProgress: setupOnTerminal, onTuningNotice: noticeOnTerminal });
  console.log(model.summary());
  const evaluation = await model.evaluate(x, y, { batchSize: args.batchSize, callbacks: testProgress(Math.ceil(count / args.batchSize)) });
  stdoutProgress.line(`test loss: ${evaluation.loss.toFixed(4)} - test accuracy: ${evaluation.accuracy.toFixed(4)} (${count.toLocaleString('en-US')} test images)`);
  const probabilities = [...(await model.predict(x.subarray(0, rowSize)))];
  const argmax = probabilities.indexOf(Math.max(...probabilities));
  stdoutProgress.line(`prediction for test image 0: [${probabilities.map((p) => p.toExponential(2)).join(', ')}]`);
  console.log(`argmax ${argmax}, true label ${y[0]}`);
  model.destroy();
  gpu.device.destroy();
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
