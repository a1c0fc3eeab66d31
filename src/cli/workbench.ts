// `npm run workbench`: checks (and times) an edited WGSL kernel against the
// built-in one and the float64 reference, in Node on Dawn. Exit 0: it matches;
// 1: it does not; 2: it does not compile or fit; 3: it did not finish in time.
import { createGpu, describeAdapter, formatMs, writeFileAtomically, type Gpu } from '../node';
import { readNamedFile } from '../node/files';
import {
  builtInSource,
  checkKernel,
  checkShape,
  DEFAULT_TIME_LIMIT_S,
  DidNotFinish,
  fullShape,
  LONGEST_LIMIT_S,
  timeKernel,
  workbenchKernels,
  type Comparison,
  type Edit,
  type Shape,
  type Timing,
} from '../workbench';
import { printable } from '../engine/safetensors';
import { integerOption, numberOption, parseOptions } from './args';

/** The largest --source read: the engine's largest shader is under 40 KB. */
const MAX_SOURCE_BYTES = 2 ** 20;

const USAGE = `usage: npm run workbench -- --kernel OP:ENTRY --source FILE [--shape N=..,H=..] [--constants NAME=V,..] [--time] [--trials 20]
                                 [--time-limit ${DEFAULT_TIME_LIMIT_S}] [--json FILE]
       npm run workbench -- --kernel OP:ENTRY --print      (writes the built-in WGSL to start from)
       npm run workbench -- --list                         (the kernels and their shape letters)
Checks the kernel in FILE against the built-in one on seeded random inputs at the
shape (default: the tutorial's), both compared with the float64 reference.
Exit 0 when it matches within tolerance, 1 when it does not, 2 when it does not
compile or its bindings differ from the built-in kernel's (or an option is
wrong), 3 when a kernel's run did not finish in --time-limit seconds.`;

/** A WGSL identifier, as override constants and shape letters are named (`__proto__` is not one: WGSL keeps `__` for itself). */
const IDENTIFIER = /^([A-Za-z]|_[A-Za-z0-9])\w*$/;

/** `a=1,b=2` as a Map of identifiers to values, each read by `value` (which throws for a bad one); `what` names the option in errors. */
function pairs(text: string | undefined, what: string, value: (name: string, text: string) => number): Map<string, number> {
  const result = new Map<string, number>();
  for (const pair of text ? text.split(',') : []) {
    const [name, given, extra] = pair.split('=');
    if (given === undefined || extra !== undefined || !IDENTIFIER.test(name)) throw new Error(`--${what}: '${printable(pair)}' is not NAME=VALUE with NAME an identifier`);
    if (result.has(name)) throw new Error(`--${what}: ${name} is given twice`);
    result.set(name, value(name, given));
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
      'time-limit': { type: 'string', default: String(DEFAULT_TIME_LIMIT_S) },
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
  return {
    ...values,
    shape: Object.fromEntries(pairs(values.shape, 'shape', (name, text) => integerOption(`shape ${name}`, text, 0)!)),
    constants: Object.fromEntries(pairs(values.constants, 'constants', (name, text) => numberOption(`constants ${name}`, text)!)),
    trials,
    timeLimit: integerOption('time-limit', values['time-limit'], 1, LONGEST_LIMIT_S)!,
    // The inputs' generator takes a u32: a larger seed would wrap to another.
    seed: integerOption('seed', values.seed, 0, 2 ** 32 - 1)!,
  };
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

type Args = ReturnType<typeof parse>;

/** The check, and with --time the timing, printed and put in `report`; the exit code. */
async function checkAndTime(gpu: Gpu, args: Args & { kernel: string; shape: Shape; edit: Edit }, report: Record<string, unknown>): Promise<number> {
  const { kernel, shape, edit } = args;
  const check = await checkKernel(gpu, kernel, edit, { shape, seed: args.seed, timeLimitS: args.timeLimit });
  report.check = check;
  if (check.status === 'compile-error') {
    for (const m of check.messages) console.error(`${check.file}:${m.line}:${m.column}: ${m.type === 'info' ? 'note' : m.type}: ${m.message}`);
    return 2;
  }
  if (check.status === 'invalid') {
    console.error(check.message);
    return 2;
  }
  console.log(`checked ${check.output.name} [${check.output.shape.join(', ')}] against the float64 reference (atol ${fmt(check.tolerance.atol)}, rtol ${check.tolerance.rtol})`);
  console.log(`constants: built-in ${JSON.stringify(check.constants.builtIn)}, edited ${JSON.stringify(check.constants.edited)}; workgroups ${check.workgroups.builtIn.join('x')} and ${check.workgroups.edited.join('x')}`);
  console.log(describeComparison('built-in', check.builtIn).join('\n'));
  const edited = describeComparison('edited', check.edited).join('\n');
  if (check.status === 'match') console.log(edited);
  else console.error(edited);
  if (args.time) {
    const timing = await timeKernel(gpu, kernel, edit, { shape, trials: args.trials, timeLimitS: args.timeLimit });
    report.timing = timing;
    console.log(describeTiming('built-in', timing.builtIn));
    console.log(describeTiming('edited  ', timing.edited!));
    if (timing.roundingMs !== null) console.log(`note: timestamps are rounded to ${timing.roundingMs} ms on this device`);
  }
  return check.status === 'match' ? 0 : 1;
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
  // The memory it needs, before the GPU starts; the device's limits are checked once it has.
  checkShape(kernel, shape);
  // A FIFO or a device is refused at once, as any input is (src/node/files.ts).
  const source = new TextDecoder().decode(await readNamedFile(args.source!, 'a WGSL source', { maxBytes: MAX_SOURCE_BYTES }));
  // Unrounded timestamps, as the benchmark asks for.
  const gpu = await createGpu({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
  console.log(`WebGPU adapter: ${describeAdapter(gpu.adapter)}`);
  console.log(`${kernel} at ${Object.entries(shape).map(([l, v]) => `${l}=${v}`).join(',')}`);
  const edit = { source, constants: args.constants, file: args.source };
  const report: Record<string, unknown> = { kernel, shape, source: args.source, constants: args.constants };
  let code: number;
  try {
    code = await checkAndTime(gpu, { ...args, kernel, shape, edit }, report);
  } catch (error) {
    if (!(error instanceof DidNotFinish)) throw error;
    // The GPU is still running the kernel. Destroying the device would wait for it
    // (Dawn on lavapipe: for ever); the process' exit ends it.
    console.error(`error: ${error.message} (--time-limit sets the limit)`);
    report.didNotFinish = error.message;
    code = 3;
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
