// `npm run bench:variants`: conv2d variants of one product at one shape, timed in
// paired rounds (each round runs every variant once, back to back), so that the
// machine's drift, which on a shared CPU can double a kernel's time within a
// minute, moves all of them alike. Prints a table and, with --out, JSON.
import { parseArgs } from 'node:util';
import { createGpu, writeFileAtomically } from '../src/node';
import { createTensor } from '../src/engine/buffers';
import { conv2dBackward, conv2dForward } from '../src/engine/ops/conv2d';
import { encodeDispatches, useVariant } from '../src/engine/pipelines';
import { formatMs, stats } from '../src/engine/profile';

const USAGE = `npm run bench:variants -- --conv cnn:0|cnn:2|N,H,W,C_in,KH,KW,C_out --product forward|backward_weight|backward_input
                                [--variants "rows=8;rows=4 shuffled by place"] [--rounds 9] [--out FILE.json]
  --conv      the shape: the tutorial CNN's convolution at layer 0 or 2 at batch 128, or sizes (stride 1, 'valid')
  --product   which of conv2d's three products
  --variants  those to time, separated by ';' (default: every variant offered); the first is the baseline
  --rounds    rounds of one dispatch of each variant after one untimed (default 9)`;

const PRESETS: Record<string, number[]> = { 'cnn:0': [128, 28, 28, 1, 3, 3, 32], 'cnn:2': [128, 13, 13, 32, 3, 3, 64] };

const { values } = parseArgs({
  options: {
    conv: { type: 'string' },
    product: { type: 'string' },
    variants: { type: 'string' },
    rounds: { type: 'string', default: '9' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
const sizes = PRESETS[values.conv ?? ''] ?? values.conv?.split(',').map(Number);
const rounds = Number(values.rounds);
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!sizes || sizes.length !== 7 || sizes.some((n) => !Number.isInteger(n) || n <= 0) || !Number.isInteger(rounds) || rounds < 1) {
  console.error(`bench:variants: --conv must be cnn:0, cnn:2 or seven positive sizes, and --rounds a positive integer\n${USAGE}`);
  process.exit(2);
}
const [N, H, W, C_in, KH, KW, C_out] = sizes;
const { device, adapter } = await createGpu();
const tensor = (shape: number[], label: string) => createTensor(device, shape, { label });
const x = tensor([N, H, W, C_in], 'x');
const w = tensor([KH, KW, C_in, C_out], 'w');
const y = tensor([N, H - KH + 1, W - KW + 1, C_out], 'y');
const dispatches = [
  await conv2dForward(device, { x, w, y }),
  ...(await conv2dBackward(device, { x, w, dOut: y, dWeight: tensor([KH, KW, C_in, C_out], 'dW'), dInput: tensor([N, H, W, C_in], 'dX') })),
];
const dispatch = dispatches.find((d) => d.tunable?.kernel.endsWith(`:${values.product}`));
if (!dispatch?.tunable) {
  console.error(`bench:variants: --product must be forward, backward_weight or backward_input, got '${values.product}'`);
  process.exit(2);
}
const offered = dispatch.tunable.variants;
const names = values.variants?.split(';') ?? offered;
const unknown = names.filter((name) => !offered.includes(name));
if (unknown.length > 0) {
  console.error(`bench:variants: not offered at this shape: ${unknown.join(', ')} (offered: ${offered.join(', ')})`);
  process.exit(2);
}

/** Wall time of one dispatch of the variant in use, the queue drained around it. */
async function time(): Promise<number> {
  const encoder = device.createCommandEncoder();
  encodeDispatches(encoder, [dispatch!]);
  await device.queue.onSubmittedWorkDone();
  const start = performance.now();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - start;
}

const ms = new Map(names.map((name) => [name, [] as number[]]));
for (const name of names) {
  await useVariant(dispatch, name);
  await time();
}
for (let round = 0; round < rounds; round++) {
  console.error(`round ${round + 1} of ${rounds}`);
  for (const name of names) {
    await useVariant(dispatch, name);
    ms.get(name)!.push(await time());
  }
}
const baseline = ms.get(names[0])!;
const rows = names.map((name) => {
  const times = ms.get(name)!;
  return { variant: name, ...stats(times), speedup: stats(times.map((t, round) => baseline[round] / t)) };
});
console.log(`${dispatch.tunable.kernel} at N=${N} H=${H} W=${W} C_in=${C_in} k=${KH}x${KW} C_out=${C_out}, ${adapter.description || adapter.vendor}${adapter.isFallbackAdapter ? ' (a software adapter: a CPU emulating a GPU, not GPU figures)' : ''}\n`);
console.log(`| Variant | ms median | min–max | ${names[0]} / this, per round: median | min–max |\n| --- | --- | --- | --- | --- |`);
for (const r of rows) {
  console.log(`| ${r.variant} | ${formatMs(r.median)} | ${formatMs(r.min)}–${formatMs(r.max)} | ${r.speedup.median.toFixed(2)}× | ${r.speedup.min.toFixed(2)}–${r.speedup.max.toFixed(2)} |`);
}
if (values.out) await writeFileAtomically(values.out, JSON.stringify({ kernel: dispatch.tunable.kernel, sizes: { N, H, W, C_in, KH, KW, C_out }, rounds, variants: rows }, null, 2));
process.exit(0);
