// `npm run workbench`: checks (and times) an edited WGSL kernel against the
// built-in one and the float64 reference, in Node on Dawn. Exit 0: it matches; 1: it does not; 2: it does not compile or fit.
import { readFile } from 'node:fs/promises';
import { createGpu, describeAdapter, formatMs, writeFileAtomically } from '../node';
import { builtInSource, checkKernel, fullShape, timeKernel, workbenchKernels, type Comparison, type Shape, type Timing } from '../workbench';
import { integerOption, parseOptions } from './args';

const USAGE = `usage: npm run workbench -- --kernel OP:ENTRY --source FILE [--shape N=..,H=..] [--constants NAME=V,..] [--time] [--trials 20] [--json FILE]
       npm run workbench -- --kernel OP:ENTRY --print      (writes the built-in WGSL to start from)
       npm run workbench -- --list                         (the kernels and their shape letters)
Checks the kernel in FILE against the built-in one on seeded random inputs at the
shape (default: the tutorial's), both compared with the float64 reference.
Exit 0 when it matches within tolerance, 1 when it does not, 2 when it does not
compile or its bindings differ from the built-in kernel's.`;

/** `a=1,b=2` as numbers; `what` names the option in errors. */
function pairs(text: string | undefined, what: string): Record<string, number> {
  const result: Record<string, number> = {};
  if (!text) return result;
  for (const pair of text.split(',')) {
    const [name, value, extra] = pair.split('=');
    const number = Number(value);
    if (!name || value === undefined || extra !== undefined || value.trim() === '' || !Number.isFinite(number)) {
      throw new Error(`--${what}: '${pair}' is not NAME=NUMBER`);
    }
    result[name.trim()] = number;
  }
  return result;
}

function parse() {
  const values = parseOptions(
    {
      kernel: { type: 'string' },
      source: { type: 'string' },
      shape: { type: 'string' },
      constants: { type: 'string' },
      seed: { type: 'string', default: '1' },
      time: { type: 'boolean', default: false },
      trials: { type: 'string', default: '20' },
      json: { type: 'string' },
      print: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const trials = integerOption('trials', values.trials, 1)!;
  if (!values.list && !values.kernel) throw new Error(`--kernel OP:ENTRY is required (--list shows them)\n${USAGE}`);
  if (!values.list && !values.print && !values.source) throw new Error(`--source FILE (or --print) is required\n${USAGE}`);
  return { ...values, shape: pairs(values.shape, 'shape'), constants: pairs(values.constants, 'constants'), trials, seed: Number(values.seed) };
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toExponential(2) : String(n));

function describeComparison(what: string, c: Comparison): string[] {
  const lines = [`${what}: max abs error ${fmt(c.maxAbs)}, max rel error ${fmt(c.maxRel)}, ${c.count} of ${c.total} values outside the tolerance`];
  for (const m of c.mismatches) lines.push(`  [${m.at.join(', ')}] (index ${m.index}) got ${m.got}, expected ${m.want}`);
  return lines;
}

function describeTiming(what: string, t: Timing): string {
  const rates = t.gflops === null ? '' : `, ${t.gflops.toFixed(2)} GFLOP/s, ${t.gbPerS!.toFixed(2)} GB/s`;
  return `${what}: median ${formatMs(t.ms.median)} ms (min ${formatMs(t.ms.min)}, max ${formatMs(t.ms.max)}, ${t.ms.samples.length} trials)${rates}`;
}

async function main(): Promise<number> {
  const args = parse();
  if (args.list) {
    for (const k of workbenchKernels()) console.log(`${k.shortName.padEnd(32)} ${Object.entries(k.presets[0].shape).map(([l, v]) => `${l}=${v}`).join(',')}   ${k.letters}`);
    return 0;
  }
  const kernel = args.kernel!;
  if (args.print) {
    process.stdout.write(builtInSource(kernel));
    return 0;
  }
  const shape: Shape = fullShape(kernel, args.shape);
  const source = await readFile(args.source!, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`--source ${args.source}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  // Unrounded timestamps, as the benchmark asks for.
  const gpu = await createGpu({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  console.log(`${kernel} at ${Object.entries(shape).map(([l, v]) => `${l}=${v}`).join(',')}`);
  const edit = { source, constants: args.constants, file: args.source };
  const check = await checkKernel(gpu, kernel, edit, { shape, seed: args.seed });
  const report: Record<string, unknown> = { kernel, shape, source: args.source, constants: args.constants, check };
  let code: number;
  if (check.status === 'compile-error') {
    for (const m of check.messages) console.error(`${check.file}:${m.line}:${m.column}: ${m.type === 'info' ? 'note' : m.type}: ${m.message}`);
    code = 2;
  } else if (check.status === 'invalid') {
    console.error(check.message);
    code = 2;
  } else {
    console.log(`checked ${check.output.name} [${check.output.shape.join(', ')}] against the float64 reference (atol ${fmt(check.tolerance.atol)}, rtol ${check.tolerance.rtol})`);
    console.log(`constants: built-in ${JSON.stringify(check.constants.builtIn)}, edited ${JSON.stringify(check.constants.edited)}; workgroups ${check.workgroups.builtIn.join('x')} and ${check.workgroups.edited.join('x')}`);
    console.log(describeComparison('built-in', check.builtIn).join('\n'));
    const edited = describeComparison('edited', check.edited).join('\n');
    if (check.status === 'match') console.log(edited);
    else console.error(edited);
    code = check.status === 'match' ? 0 : 1;
    if (args.time) {
      const timing = await timeKernel(gpu, kernel, edit, { shape, trials: args.trials });
      report.timing = timing;
      console.log(describeTiming('built-in', timing.builtIn));
      console.log(describeTiming('edited  ', timing.edited!));
      if (timing.roundingMs !== null) console.log(`note: timestamps are rounded to ${timing.roundingMs} ms on this device`);
    }
  }
  if (args.json) {
    await writeFileAtomically(args.json, JSON.stringify(report, null, 2) + '\n');
    console.log(`wrote ${args.json}`);
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`error: ${error.message}`);
    // Bad arguments are the caller's to fix, like a kernel that does not compile.
    process.exit(2);
  },
);
