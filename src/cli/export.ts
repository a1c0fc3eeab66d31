// `npm run export`: a model file to a directory PyTorch can run and train on
// (--torch DIR), and PyTorch's weights back to a model file (--from-torch).
// Both are conversions of files: no GPU is started.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readModelFile } from '../engine/modelFile';
import { modelFileFromTorch } from '../engine/torchConvert';
import { exportTorch } from '../node/torchDirectory';
import { checkOutputPath, readSafetensorsFile, writeFileAtomically } from '../node/files';
import { parseOptions, pathOption } from './args';

const USAGE = `usage: npm run export -- --load FILE --torch DIR
       npm run export -- --from-torch DIR|FILE --save FILE
  --load FILE --torch DIR    write DIR/model.safetensors in PyTorch's names and layouts, with
                             model.py, predict.py, train.py (torchrun) and a README
  --from-torch DIR|FILE      read weights train.py saved (or DIR/model.safetensors) back into
  --save FILE                a model file, as npm run train -- --save writes them`;

function parse() {
  const values = parseOptions(
    {
      load: { type: 'string' },
      torch: { type: 'string' },
      'from-torch': { type: 'string' },
      save: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  for (const name of ['load', 'torch', 'from-torch', 'save'] as const) pathOption(name, values[name]);
  const exporting = values.load !== undefined || values.torch !== undefined;
  const importing = values['from-torch'] !== undefined || values.save !== undefined;
  if (exporting === importing) throw new Error(`give either --load FILE --torch DIR or --from-torch DIR|FILE --save FILE\n${USAGE}`);
  if (exporting && (!values.load || !values.torch)) throw new Error(`--load FILE and --torch DIR go together\n${USAGE}`);
  if (importing && (!values['from-torch'] || !values.save)) throw new Error(`--from-torch DIR|FILE and --save FILE go together\n${USAGE}`);
  return values;
}

async function main() {
  const args = parse();
  if (args.load && args.torch) {
    const bytes = await readSafetensorsFile(args.load, 'a model file');
    const paths = await exportTorch(bytes, args.torch, args.load);
    console.log(`wrote ${paths.join(', ')}`);
    console.log(`try: cd ${args.torch} && python3 predict.py --data MNIST_DIR`);
    return;
  }
  const from = args['from-torch']!;
  const save = args.save!;
  await checkOutputPath(save, '--save');
  const path = (await stat(from).catch(() => undefined))?.isDirectory() ? join(from, 'model.safetensors') : from;
  const bytes = modelFileFromTorch(await readSafetensorsFile(path, 'a PyTorch safetensors file'), path);
  const { layers, weights } = readModelFile(bytes, save);
  await writeFileAtomically(save, bytes);
  const params = weights.reduce((n, w) => n + w.values.length, 0);
  console.log(`saved ${save}: ${layers.length} layers, ${params.toLocaleString('en-US')} parameters from ${path}`);
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
