// A pass over a data set on the GPU (an epoch of training, or an evaluation),
// keeping the GPU busy: the steps up to each progress update go into one
// command buffer, whose metrics are read back without waiting on them, while
// the next ones are recorded.
import { batchAt, type Inputs, type Pass } from '../dataSets';
import { READBACKS, SAVED_STATES, type Graph, type Progress } from '../graph';
import { findNonFinite } from './nanHunt';

/** Steps between progress updates by default: about 20 updates a pass (an epoch, an evaluation), each one readback. */
export function defaultUpdateEvery(steps: number): number {
  return Math.max(1, Math.ceil(steps / 20));
}

export interface PassOptions {
  kind: 'train' | 'evaluate';
  /** The inputs and the order the pass takes its rows in (for the non-finite loss' hunt). */
  x: Inputs;
  order: Uint32Array;
  /** Steps between progress updates (each reads the running means back once); Infinity: only at the end. */
  updateEvery: number;
  /** Called at each progress update, with its last step (0-based); the pass waits for a promise it returns (a pause). */
  onUpdate?: (step: number, progress: Progress) => void | Promise<void>;
  /** Asked between command buffers: once it is true, none is submitted. */
  stop?: () => boolean;
  /** In training, whether a non-finite loss stops the pass with an error naming where it went so (the default: true). */
  stopOnNonFinite?: boolean;
  /** Steps already done and rows already seen in this epoch; the graph's sums must hold them (`writeState`). */
  from?: { step: number; seen: number };
  /** Whether a command buffer must end after step `step` (0-based), as at a checkpoint. */
  endChunk?: (step: number) => boolean;
  /** Called after each command buffer is submitted, with its last step (0-based) and the rows seen so far; the pass waits for it. */
  afterChunk?: (step: number, seen: number) => Promise<void>;
  /** Starts the message of a non-finite loss: `epoch 2/5`. */
  label?: string;
}

/**
 * Runs `pass`: the steps up to each progress update (every `updateEvery`
 * steps, and the last), or up to a step where `endChunk` says so, go into one
 * command buffer. In training, a non-finite loss stops the pass with an error
 * naming the step and the first value that went non-finite (nanHunt.ts).
 * Returns the last progress read and the steps run.
 */
export async function runPass(graph: Graph, pass: Pass, options: PassOptions): Promise<Progress & { steps: number }> {
  const { kind, updateEvery, stop = () => false, stopOnNonFinite = true } = options;
  const pending: { step: number; progress: Promise<Progress>; slot?: number }[] = [];
  let last: Progress = { logs: { loss: NaN } };
  // The last step whose loss was read back finite, and the saved state after it, for a non-finite loss' hunt.
  let finite = (options.from?.step ?? 0) - 1;
  let finiteSlot = 0;
  let nextSlot = 1;
  if (kind === 'train') {
    const encoder = graph.device.createCommandEncoder({ label: 'save the training state' });
    graph.copyState(encoder, 'save', 0);
    graph.device.queue.submit([encoder.finish()]);
  }
  const settle = async () => {
    const snapshot = pending.shift()!;
    last = await snapshot.progress;
    await graph.checkErrors();
    if (kind === 'train' && stopOnNonFinite && !Number.isFinite(last.logs.loss)) {
      // Nothing more is submitted: the hunt runs the suspect steps again from the state saved before them.
      while (pending.length > 0) await pending.shift()!.progress;
      const found = await findNonFinite(graph, { pass, x: options.x, order: options.order, first: finite + 1, last: snapshot.step, slot: finiteSlot });
      const when = found ? `step ${found[0] + 1}/${pass.steps}` : `one of steps ${finite + 2}-${snapshot.step + 1}/${pass.steps}`;
      const culprit = found?.[1] ?? 'none, when those steps were run again from the state saved before them';
      const at = options.label ? `${options.label}, ${when}` : when;
      throw new Error(`training stopped: the loss is ${last.logs.loss} at ${at}; the first non-finite values: ${culprit}`);
    }
    finite = snapshot.step;
    finiteSlot = snapshot.slot ?? finiteSlot;
    await options.onUpdate?.(snapshot.step, last);
  };
  let seen = options.from?.seen ?? 0;
  let step = options.from?.step ?? 0;
  while (step < pass.steps && !stop()) {
    let end = step;
    while (end < pass.steps - 1 && (end + 1) % updateEvery !== 0 && !options.endChunk?.(end)) end++;
    for (let s = step; s <= end; s++) seen += batchAt(pass, s).batchSize;
    const update = end === pass.steps - 1 || (end + 1) % updateEvery === 0 || stop();
    if (update && pending.length === READBACKS) await settle();
    const snapshot = update ? { seen, ...(kind === 'train' && { steps: end + 1 }) } : undefined;
    const first = step;
    // A training update saves the state in a slot of its own: the last one read finite, and each pending, keep theirs.
    const save = snapshot && kind === 'train' ? nextSlot : undefined;
    if (save !== undefined) nextSlot = (nextSlot + 1) % SAVED_STATES;
    graph.scoped(`${kind} ${first === end ? `step ${end + 1}` : `steps ${first + 1}-${end + 1}`}/${pass.steps}`, () => {
      const progress = graph.submit(pass, { kind, first, last: end, clear: first === 0, snapshot, save });
      // Marked handled now: when the device is lost, those after the one awaited fail before they are awaited.
      progress?.catch(() => {});
      if (progress) pending.push({ step: end, progress, slot: save });
    });
    step = end + 1;
    await options.afterChunk?.(end, seen);
  }
  while (pending.length > 0) await settle();
  await graph.checkErrors();
  return { ...last, steps: step };
}
