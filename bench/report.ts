// The benchmark's figures as Markdown tables.
import type { Stats } from './timing';
import type { BenchResult, KernelResult, ModelResult, StepResult } from './suite';

/** A number to three significant figures or so, without exponent. */
function num(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

const range = (s: Stats | null) => (s ? `${num(s.min)}–${num(s.max)}` : '—');
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const table = (header: string[], rows: (string | number)[][]) =>
  [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n');

function environmentTable(result: BenchResult, caveat: string): string {
  const { environment: env, options } = result;
  const rows: [string, string][] = [
    ['Vendor', env.adapter.vendor || '—'],
    ['Architecture', env.adapter.architecture || '—'],
    ['Device / description', [env.adapter.device, env.adapter.description].filter(Boolean).join(', ') || '—'],
    ['Adapter kind', env.adapter.isFallbackAdapter ? 'software (the CPU emulates a GPU)' : 'hardware'],
    ['Runtime', env.runtime === 'node' ? 'Node, WebGPU from Dawn (the `webgpu` package)' : 'headless Chromium'],
    ['GPU timing', env.timestampQueries ? 'timestamp queries' : 'wall time of submissions, queue drained (no timestamp queries)'],
    ...Object.entries(env.versions).map(([name, version]): [string, string] => [name, version]),
    ['Mode', options.quick ? 'quick' : 'full'],
    ['Date', env.date],
  ];
  return table([`Environment${caveat}`, ''], rows);
}

function comparisonTable(models: ModelResult[], caveat: string): string {
  return table(
    ['Model', 'Ours ms/step', 'TF.js ms/step', 'TF.js / ours', 'Ours images/s', 'TF.js images/s', 'Steps per round (ours, TF.js)'],
    models.map((m) => [
      m.model,
      `${num(m.oursMsPerStep)} (${range(m.ours.msPerStep)})`,
      m.tfjs.msPerStep ? `${num(m.tfjsMsPerStep)} (${range(m.tfjs.msPerStep)})` : `failed: ${m.tfjs.error ?? 'not run'}`,
      m.ratio === null ? '—' : `${num(m.ratio)}×`,
      num(m.ours.imagesPerSecond),
      m.tfjsMsPerStep ? num((m.batch * 1000) / m.tfjsMsPerStep) : '—',
      `${m.ours.stepsPerRound}, ${m.tfjs.stepsPerRound}`,
    ]),
  ).replace('| Model |', `| Model${caveat} |`);
}

function stepTable(models: ModelResult[], caveat: string): string {
  const rows = models.flatMap((m) =>
    m.sweep.map((s: StepResult) => [
      m.model,
      s.batch,
      num(s.msPerStep.median),
      range(s.msPerStep),
      num(s.imagesPerSecond),
      s.dispatchesPerStep,
      num(s.recordMs.median),
      num(s.gpuMs?.median),
      range(s.gpuMs),
      `${s.stepsPerRound} × ${s.msPerStep.samples.length}`,
    ]),
  );
  return table(
    [`Model${caveat}`, 'Batch', 'ms/step', 'min–max', 'images/s', 'Dispatches/step', 'CPU ms to record', 'GPU ms/step', 'GPU min–max', 'Steps × rounds'],
    rows,
  );
}

function kernelTable(m: ModelResult, caveat: string): string {
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
  ]);
  return table(
    ['#', `Kernel${caveat}`, 'Layer', 'Dispatches', 'Workgroups', 'ms', 'mean', 'min–max', 'Share', 'MFLOP', 'GFLOP/s', 'GB/s'],
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
    ? ` The timestamps were rounded to ${num(roundingMs * 1000)} µs (Dawn's timestamp quantization), so a shorter kernel reads as 0 or one step: its median means little, its mean over the repeats is sound.`
    : '';
  return (
    `GPU time per kernel (${how}, after one untimed step): median, mean and min–max, in ms. ` +
    `FLOPs and bytes are counted from the layer shapes (each op's \`work\`).${rounding} Top three: ${topKernels(m)}.`
  );
}

/** The `n` kernels that take the most time, as one line. */
export function topKernels(m: ModelResult, n = 3): string {
  return [...m.kernels.rows]
    .sort((a, b) => b.ms.median - a.ms.median)
    .slice(0, n)
    .map((k) => `\`${k.kernel}\` (${k.site}) ${num(k.ms.median)} ms`)
    .join(', ');
}

export function markdownReport(result: BenchResult): string {
  const software = result.environment.adapter.isFallbackAdapter;
  const caveat = software ? ' (software adapter: not GPU figures)' : '';
  const batch = result.models[0]?.batch;
  const sections = [
    '# Training benchmark',
    software
      ? '> **These figures come from a software adapter** (a CPU emulating a GPU). They are not GPU figures; run on a machine with a GPU for those.'
      : '',
    environmentTable(result, caveat),
    `## Training step at batch ${batch}, ours and TensorFlow.js' interleaved`,
    'RMSprop (lr 0.001, rho 0.9, epsilon 1e-7), sparse categorical cross-entropy, the same layers, one random batch, ' +
      'on the same device. ms/step: wall time of a stretch of steps with one drain at the end, over the steps; median (min–max) over rounds.',
    comparisonTable(result.models, caveat),
    '## Our training step by batch size',
    'CPU ms to record: encoding one step, finishing its command buffer and submitting it. GPU ms/step: timestamps around the step.',
    stepTable(result.models, caveat),
    ...result.models.flatMap((m) => [`## Kernels of ${m.model} at batch ${m.batch}`, kernelNotes(m), kernelTable(m, caveat)]),
  ];
  return `${sections.filter(Boolean).join('\n\n')}\n`;
}
