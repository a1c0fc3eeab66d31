// The benchmark's figures as a report: headings, paragraphs and tables that the
// command line prints as Markdown and bench.html shows as HTML.
import { formatVariantTimes, type Stats } from '../src/engine';
import type { Peak, Roofline } from './roofline';
import type { BenchResult, Environment, KernelResult, ModelResult, PrecisionRow, StepResult } from './suite';

/** A piece of the report. Its text may hold `code` and **bold**, Markdown's marks, the only ones it uses. */
export type Block =
  | { kind: 'heading'; level: 1 | 2; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'warning'; text: string }
  | { kind: 'table'; header: string[]; rows: string[][] };

/** A number to three significant figures or so, without exponent. */
function num(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

const range = (s: Stats | null) => (s ? `${num(s.min)}–${num(s.max)}` : '—');
const percent = (fraction: number | null) => (fraction === null ? '—' : `${num(100 * fraction)}%`);
const table = (header: string[], rows: (string | number)[][]): Block => ({ kind: 'table', header, rows: rows.map((cells) => cells.map(String)) });

const RUNTIMES: Record<Environment['runtime'], string> = {
  node: 'Node, WebGPU from Dawn (the `webgpu` package)',
  chromium: 'headless Chromium',
  browser: 'a browser, on bench.html',
};

function gpuTiming(env: Environment): string {
  if (!env.timestampQueries) return 'wall time of submissions, queue drained (no timestamp queries)';
  return env.timestampRoundingMs ? `timestamp queries, rounded to ${num(env.timestampRoundingMs * 1000)} µs` : 'timestamp queries';
}

function environmentTable(result: BenchResult, caveat: string): Block {
  const { environment: env, options } = result;
  const rows: [string, string][] = [
    ['Vendor', env.adapter.vendor || '—'],
    ['Architecture', env.adapter.architecture || '—'],
    ['Device / description', [env.adapter.device, env.adapter.description].filter(Boolean).join(', ') || '—'],
    ['Adapter kind', env.adapter.isFallbackAdapter ? 'software (the CPU emulates a GPU)' : 'hardware'],
    ['Runtime', RUNTIMES[env.runtime]],
    ['GPU timing', gpuTiming(env)],
    ...Object.entries(env.versions).map(([name, version]): [string, string] => [name, version]),
    ['Mode', options.quick ? 'quick' : 'full'],
    ['Date', env.date],
  ];
  return table([`Environment${caveat}`, ''], rows);
}

function rooflineTable(roofline: Roofline, caveat: string): Block {
  const peak = (what: string, unit: string, p: Peak): string[] => [what, `${num(p.rate)} ${unit}`, p.variant, formatVariantTimes(p.ms, num)];
  return table(
    [`Roof${caveat}`, 'Peak', 'Variant', `Each variant's ms (the fastest variant's: best of ${roofline.rounds})`],
    [
      peak('f32 multiply-adds (`peak.wgsl:multiply_add`)', 'GFLOP/s', roofline.gflops),
      roofline.f16Gflops ? peak('f16 multiply-adds (`peak.wgsl:multiply_add` in f16)', 'GFLOP/s', roofline.f16Gflops) : ['f16 multiply-adds', '—', 'the device has no `shader-f16`', '—'],
      peak('memory bandwidth, read + written (`peak.wgsl:copy`)', 'GB/s', roofline.gbPerSecond),
      ['ridge point (f32 peak over bandwidth)', `${num(roofline.ridge)} FLOP/byte`, '', ''],
    ],
  );
}

function comparisonTable(models: ModelResult[], caveat: string): Block {
  const imagesPerSecond = (m: ModelResult, ms: number | null) => (ms ? num((m.batch * 1000) / ms) : '—');
  return table(
    [
      `Model${caveat}`,
      'Ours ms/step',
      'TF.js ms/step',
      'TF.js / ours',
      'PyTorch CPU ms/step',
      'PyTorch / ours',
      'Ours images/s',
      'TF.js images/s',
      'PyTorch images/s',
      'Steps per round (ours, TF.js, PyTorch)',
    ],
    models.map((m) => [
      m.model,
      `${num(m.oursMsPerStep)} (${range(m.ours.msPerStep)})`,
      m.tfjs.msPerStep ? `${num(m.tfjsMsPerStep)} (${range(m.tfjs.msPerStep)})` : `failed: ${m.tfjs.error ?? 'not run'}`,
      m.ratio === null ? '—' : `${num(m.ratio)}×`,
      m.pytorch.msPerStep ? `${num(m.pytorchMsPerStep)} (${range(m.pytorch.msPerStep)})` : '—',
      m.pytorchRatio === null ? '—' : `${num(m.pytorchRatio)}×`,
      num(m.ours.imagesPerSecond),
      imagesPerSecond(m, m.tfjsMsPerStep),
      imagesPerSecond(m, m.pytorchMsPerStep),
      `${m.ours.stepsPerRound}, ${m.tfjs.stepsPerRound}, ${m.pytorch.msPerStep ? m.pytorch.stepsPerRound : '—'}`,
    ]),
  );
}

/** One line for the models PyTorch did not run on, by reason; none when it ran on all. */
function pytorchNotes(models: ModelResult[]): Block[] {
  const byReason = new Map<string, string[]>();
  for (const m of models) if (m.pytorch.reason !== null) byReason.set(m.pytorch.reason, [...(byReason.get(m.pytorch.reason) ?? []), m.model]);
  return [...byReason].map(([reason, names]): Block => ({ kind: 'paragraph', text: `PyTorch CPU, no figures for ${names.join(', ')}: ${reason}.` }));
}

function stepTable(models: ModelResult[], caveat: string): Block {
  const rows = models.flatMap((m) =>
    m.sweep.map((s: StepResult) => [
      m.model,
      s.batch,
      num(s.msPerStep.median),
      range(s.msPerStep),
      num(s.imagesPerSecond),
      num(s.tfjsMsPerStep?.median),
      s.tfjsMsPerStep ? `${num(s.tfjsMsPerStep.median / s.msPerStep.median)}×` : '—',
      s.dispatchesPerStep,
      num(s.recordMs.median),
      num(s.gpuMs?.median),
      range(s.gpuMs),
      num(s.gflops),
      s.batch === m.batch ? num(bestKernelGflops(m)) : '',
      num(s.intensity),
      num(s.boundGflops),
      percent(s.rooflineFraction),
      `${s.stepsPerRound} × ${s.msPerStep.samples.length}`,
    ]),
  );
  return table(
    [
      `Model${caveat}`,
      'Batch',
      'ms/step',
      'min–max',
      'images/s',
      'TF.js ms/step',
      'TF.js / ours',
      'Dispatches/step',
      'CPU ms to record',
      'GPU ms/step',
      'GPU min–max',
      'Step GFLOP/s',
      'Best kernel GFLOP/s',
      'FLOP/byte',
      'Roofline GFLOP/s',
      'Of roofline',
      'Steps × rounds',
    ],
    rows,
  );
}

/** The highest GFLOP/s of the model's kernels at the benchmark's batch: what the step's own GFLOP/s is held against. */
export function bestKernelGflops(m: ModelResult): number | null {
  const rates = m.kernels.rows.flatMap((k) => (k.gflops === null ? [] : [k.gflops]));
  return rates.length ? Math.max(...rates) : null;
}

/** `rows=4 (rows=1 245, rows=2 67.8, rows=4 60.4 ms)`: the variant and each variant's time when it was chosen. */
function variantCell(k: KernelResult): string {
  if (k.variant === null) return '—';
  return Object.keys(k.variants).length ? `${k.variant} (${formatVariantTimes(k.variants, num)})` : k.variant;
}

function kernelTable(m: ModelResult, caveat: string): Block {
  const total = m.kernels.rows.reduce((sum, k) => sum + k.ms.median, 0);
  const rows = m.kernels.rows.map((k: KernelResult, i) => [
    i + 1,
    `\`${k.kernel}\``,
    k.site,
    k.dispatches,
    k.workgroups,
    num(k.ms.median),
    num(k.ms.mean),
    range(k.ms),
    `${num((100 * k.ms.median) / total)}%`,
    k.flops === 0 ? '0' : num(k.flops === null ? null : k.flops / 1e6),
    num(k.gflops),
    num(k.gbPerSecond),
    num(k.intensity),
    num(k.boundGflops),
    percent(k.rooflineFraction),
    variantCell(k),
  ]);
  return table(
    ['#', `Kernel${caveat}`, 'Layer', 'Dispatches', 'Workgroups', 'ms', 'mean', 'min–max', 'Share', 'MFLOP', 'GFLOP/s', 'GB/s', 'FLOP/byte', 'Roofline GFLOP/s', 'Of roofline', 'Variant (each variant\'s ms when chosen)'],
    rows,
  );
}

function kernelNotes(m: ModelResult): string {
  const { method, repeats, roundingMs } = m.kernels;
  const how =
    method === 'timestamp-query'
      ? `timestamp queries between kernels, over ${repeats} whole steps`
      : `wall time of many submissions of each kernel with the queue drained, ${repeats} samples`;
  const rounding = roundingMs
    ? ` The timestamps were rounded to ${num(roundingMs * 1000)} µs (timestamp quantization, against timing attacks), so a shorter kernel reads as 0 or one step: its median means little, its mean over the repeats is sound.`
    : '';
  return (
    `GPU time per kernel (${how}, after one untimed step): median, mean and min–max, in ms. ` +
    `FLOPs and bytes are counted from the layer shapes (each op's \`work\`). ` +
    'Roofline GFLOP/s: what the roofline allows at the kernel\'s FLOP/byte, min(peak, FLOP/byte × bandwidth); of roofline: its GFLOP/s over that, or for a kernel of no FLOPs its GB/s over the bandwidth.' +
    `${rounding} Top three: ${topKernels(m)}.`
  );
}

/** Mixed precision beside float32: the step, then each product's fastest f16 and f32 variants. */
function mixedBlocks(m: ModelResult, caveat: string): Block[] {
  const { mixed } = m;
  const heading: Block = { kind: 'heading', level: 2, text: `Mixed precision (f16 products) against float32, ${m.model} at batch ${m.batch}` };
  if (mixed.reason && !mixed.msPerStep) return [heading, { kind: 'paragraph', text: `No figures: ${mixed.reason}.` }];
  const step =
    `Training step with \`compile({ precision: 'mixed' })\`: ${num(mixed.msPerStep?.median)} ms/step (${range(mixed.msPerStep)}), ` +
    `float32 ${num(m.oursMsPerStep)} ms/step in the same rounds: float32 / mixed ${mixed.speedup === null ? '—' : `${num(mixed.speedup)}×`}. ` +
    'Each product (conv2d and matmul forward, backward_input, backward_weight) has an f32 and an f16 variant of every algorithm; ' +
    'the autotuner times them all on this adapter and the step runs the fastest, whichever its precision. ' +
    'Below, for each product, the fastest variant of each precision and its ms a dispatch as the autotuner timed it (alone, repeated), ' +
    'and f32 ms over f16 ms: above 1, f16 is the faster.' +
    (m.mixed.reason ? ` Kernels: ${m.mixed.reason}.` : '') +
    (caveat ? ' On a CPU emulating a GPU, f16 has no arithmetic of its own: it is converted to and from f32 around each operation.' : '');
  const cell = (side: PrecisionRow['f32']) => (side ? [side.variant, num(side.ms)] : ['—', '—']);
  const rows = mixed.kernels.map((k, i) => [
    i + 1,
    `\`${k.kernel}\``,
    k.site,
    k.shape,
    ...cell(k.f32),
    ...cell(k.f16),
    k.f16Speedup === null ? '—' : `${num(k.f16Speedup)}×`,
    `${k.chosen}${k.from === 'cache' ? ' (cached)' : ''}`,
  ]);
  return [
    heading,
    { kind: 'paragraph', text: step },
    table(['#', `Product${caveat}`, 'Layer', 'Shape', 'Fastest f32 variant', 'f32 ms', 'Fastest f16 variant', 'f16 ms', 'f32 ms / f16 ms', 'The mixed step runs'], rows),
  ];
}

/** The `n` kernels that take the most time, as one line. */
export function topKernels(m: ModelResult, n = 3): string {
  return [...m.kernels.rows]
    .sort((a, b) => b.ms.median - a.ms.median)
    .slice(0, n)
    .map((k) => `\`${k.kernel}\` (${k.site}) ${num(k.ms.median)} ms`)
    .join(', ');
}

/** The whole report, in the order it is read. */
export function reportBlocks(result: BenchResult): Block[] {
  const software = result.environment.adapter.isFallbackAdapter;
  const caveat = software ? ' (software adapter: not GPU figures)' : '';
  const batch = result.models[0]?.batch;
  const heading = (level: 1 | 2, text: string): Block => ({ kind: 'heading', level, text });
  const paragraph = (text: string): Block => ({ kind: 'paragraph', text });
  const warning = (text: string): Block => ({ kind: 'warning', text });
  return [
    heading(1, 'Training benchmark'),
    ...(software
      ? [warning('**These figures come from a software adapter** (a CPU emulating a GPU). They are not GPU figures; run on a machine with a GPU for those.')]
      : []),
    environmentTable(result, caveat),
    heading(2, 'Roofline of this adapter'),
    paragraph(
      'The peaks every kernel is held against, from the micro-kernels of `bench/peak.wgsl`, each timed in its variants as the autotuner times a kernel, then its fastest variant timed again; the fastest time counts. ' +
        'Multiply-adds: independent chains of vec4 multiply-adds an invocation, no memory traffic to speak of. Bandwidth: a 64 MiB copy, its bytes read plus its bytes written. ' +
        'A kernel of fewer FLOPs a byte than the ridge point is bound by memory.',
    ),
    rooflineTable(result.roofline, caveat),
    heading(2, `Training step at batch ${batch}, ours, TensorFlow.js' and PyTorch's interleaved`),
    paragraph(
      'RMSprop (lr 0.001, rho 0.9, epsilon 1e-7), sparse categorical cross-entropy, the same layers, one random batch; ' +
        'TensorFlow.js on the same device, PyTorch natively on the CPU (Keras\' RMSprop from `python/train.py`, cross-entropy on the logits), ' +
        'in a Python process beside Node. ms/step: wall time of a stretch of steps with one drain at the end, over the steps; median (min–max) over rounds.',
    ),
    comparisonTable(result.models, caveat),
    ...pytorchNotes(result.models),
    heading(2, 'Our training step by batch size'),
    paragraph(
      'TF.js ms/step: TensorFlow.js at the same batch, in rounds interleaved with ours. ' +
        'CPU ms to record: encoding a stretch of steps into one command buffer (as fit records the steps between two progress updates), finishing and submitting it, over its steps. ' +
        'GPU ms/step: timestamps around each step\'s compute pass (its gather and its kernels). ' +
        'Step GFLOP/s: the step\'s FLOPs (its kernels\' work) over its ms/step, beside the best kernel\'s GFLOP/s at the comparison\'s batch. ' +
        'FLOP/byte, roofline GFLOP/s and of roofline: the step\'s FLOPs over its bytes (its kernels\' work, summed), the roofline there, and the step\'s GFLOP/s over it.',
    ),
    stepTable(result.models, caveat),
    ...result.models.flatMap((m) => [heading(2, `Kernels of ${m.model} at batch ${m.batch}`), paragraph(kernelNotes(m)), kernelTable(m, caveat)]),
    ...result.models.flatMap((m) => mixedBlocks(m, caveat)),
  ];
}

function markdownBlock(block: Block): string {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  switch (block.kind) {
    case 'heading':
      return `${'#'.repeat(block.level)} ${block.text}`;
    case 'paragraph':
      return block.text;
    case 'warning':
      return `> ${block.text}`;
    case 'table':
      return [row(block.header), row(block.header.map(() => '---')), ...block.rows.map(row)].join('\n');
  }
}

export function markdownReport(result: BenchResult): string {
  return `${reportBlocks(result).map(markdownBlock).join('\n\n')}\n`;
}
