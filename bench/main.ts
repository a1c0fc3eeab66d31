// `npm run bench`: times our kernels and training steps against TensorFlow.js' (and, in Node,
// PyTorch's on the CPU) in Node (Dawn) or, with --browser, in headless Chromium; prints Markdown, writes JSON.
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { createGpu, writeFileAtomically } from '../src/node';
import { PytorchTrainer } from './pytorch';
import { markdownReport, topKernels } from './report';
import { parseBenchOptions, runSuite, type BenchOptions, type BenchResult } from './suite';

const USAGE = `npm run bench -- [--quick] [--browser] [--models cnn,mlp] [--batches 32,64,128,256,512] [--autotune cached|full|off]
                       [--out FILE.json] [--markdown FILE.md]
  --quick     batch 128 only and fewer repeats (a few minutes at most, even on a software adapter)
  --browser   run in headless Chromium (BROWSER_EXECUTABLE, BROWSER_WEBGPU_ADAPTER) instead of Node
  --models    which of the tutorial's models (default cnn,mlp)
  --batches   batch sizes for the step sweep (default 32,64,128,256,512; --quick: 128)
  --autotune  how our kernels' variants are chosen: cached (default: the choices kept for this
              adapter, timing those missing), full (time every variant again) or off (the defaults)
  --out       write every figure as JSON; --markdown writes the printed report
In Node, PyTorch trains the same models on the CPU in the same rounds, with the Python that
BENCH_PYTHON names (default /usr/bin/python3); without Python or torch its column is empty.`;

const started = performance.now();
const log = (line: string) => console.error(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${line}`);

function parseOptions(): BenchOptions & { out?: string; markdown?: string; browser: boolean } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      browser: { type: 'boolean', default: false },
      models: { type: 'string', default: 'cnn,mlp' },
      batches: { type: 'string' },
      autotune: { type: 'string', default: 'cached' },
      out: { type: 'string' },
      markdown: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  let suite: BenchOptions;
  try {
    suite = parseBenchOptions(values.quick, values.models, values.batches, values.autotune);
  } catch (error) {
    throw new Error(`--${(error as Error).message}\n${USAGE}`);
  }
  return { ...suite, out: values.out, markdown: values.markdown, browser: values.browser };
}

function packageVersion(name: string): string {
  try {
    return (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
  } catch {
    // Not installed, or bundled into this script (npm run build:gpu): TensorFlow.js' own line says which.
    return 'no package.json found';
  }
}

/** Node: Dawn from the `webgpu` package, with the adapter WEBGPU_ADAPTER names (see docs/benchmarks.md); PyTorch from BENCH_PYTHON. */
async function runInNode(options: BenchOptions): Promise<BenchResult> {
  const versions = { node: process.version, webgpu: packageVersion('webgpu'), '@tensorflow/tfjs-backend-webgpu': packageVersion('@tensorflow/tfjs-backend-webgpu') };
  // Dawn rounds timestamps to 65.5 µs unless told not to.
  const gpu = await createGpu({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
  return runSuite(gpu, options, { runtime: 'node', versions }, (model, batch, data) => PytorchTrainer.start(model, batch, data), log);
}

async function main(): Promise<void> {
  const options = parseOptions();
  const suiteOptions: BenchOptions = { quick: options.quick, models: options.models, batches: options.batches, autotune: options.autotune };
  let result: BenchResult;
  if (options.browser) {
    const { runInChromium } = await import('./chromium');
    const versions = { node: process.version, '@tensorflow/tfjs-backend-webgpu': packageVersion('@tensorflow/tfjs-backend-webgpu') };
    result = await runInChromium(suiteOptions, versions, log);
  } else {
    result = await runInNode(suiteOptions);
  }
  const markdown = markdownReport(result);
  console.log(markdown);
  for (const m of result.models) log(`${m.model}: top kernels by GPU time: ${topKernels(m)}`);
  if (options.out) await writeFileAtomically(options.out, `${JSON.stringify(result, null, 2)}\n`);
  if (options.markdown) await writeFileAtomically(options.markdown, markdown);
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

// Exits explicitly: a live Dawn device keeps Node running.
main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
  },
);
