// Where a non-finite loss was born. The loss is read back every few steps, so
// when it reads NaN or infinite, it went so in one of the steps since the last
// finite read: this finds the step and the first value that went non-finite.
// It runs only then, so no step pays for it.
import { readTensor, rows, sizeOf, type Tensor } from '../buffers';
import { batchAt, type Inputs, type Pass } from '../dataSets';
import type { Graph } from '../graph';
import { encodeDispatches } from '../pipelines';

/** Steps `first` to `last` (0-based) of a pass, and the saved-state slot (Graph.copyState) holding the state before `first`. */
export interface Suspects {
  pass: Pass;
  /** The inputs and order the pass took its rows from. */
  x: Inputs;
  order: Uint32Array;
  first: number;
  last: number;
  slot: number;
}

/** The step where the first non-finite value appeared and what held it, or null if running the steps again found none. */
export async function findNonFinite(graph: Graph, suspects: Suspects): Promise<[number, string] | null> {
  // Found where the step it happened in is known exactly: a non-finite input
  // on the CPU, from the rows those steps took (bytes are always finite)...
  return nonFiniteInput(graph, suspects) ?? replay(graph, suspects);
}

function nonFiniteInput(graph: Graph, { pass, x, order, first, last }: Suspects): [number, string] | null {
  if (!(x instanceof Float32Array)) return null;
  const rowSize = sizeOf(graph.inputShape);
  for (let step = first; step <= last; step++) {
    for (const index of order.subarray(step * pass.batchSize, Math.min((step + 1) * pass.batchSize, order.length))) {
      const at = x.subarray(index * rowSize, (index + 1) * rowSize).findIndex((v) => !Number.isFinite(v));
      if (at >= 0) return [step, `the input of ${graph.layers[0].name} (row ${index} of x, its element ${at} is ${x[index * rowSize + at]})`];
    }
  }
  return null;
}

/**
 * ...else by running those steps again, one at a time, from the state saved
 * before them, each in two submissions: its forward, loss gradient and
 * backward, then, once every buffer has been found finite, its update. The
 * first buffer to hold a non-finite value between a step's backward pass and
 * its update is where it was born (after an update it would have spread to
 * every layer before it).
 */
async function replay(graph: Graph, { pass, first, last, slot }: Suspects): Promise<[number, string] | null> {
  const restore = graph.device.createCommandEncoder({ label: 'restore the training state' });
  graph.copyState(restore, 'restore', slot);
  graph.device.queue.submit([restore.finish()]);
  for (let step = first; step <= last; step++) {
    const encoder = graph.device.createCommandEncoder({ label: `replay step ${step + 1}` });
    graph.encodeStep(encoder, pass, step, { kind: 'gradients', label: `replay step ${step + 1}` });
    graph.device.queue.submit([encoder.finish()]);
    const culprit = await firstNonFinite(graph, batchAt(pass, step).batchSize);
    if (culprit) return [step, culprit];
    const update = graph.device.createCommandEncoder({ label: `replay update ${step + 1}` });
    encodeDispatches(update, batchAt(pass, step).update, `replay update ${step + 1}`);
    graph.device.queue.submit([update.finish()]);
  }
  return null;
}

/**
 * The first buffer holding a NaN or an infinity after a step's backward pass
 * (before its update), in the order the step computes them: the input, then
 * each layer's parameters and output, then the loss gradient and each layer's
 * gradients from the last layer back; or null.
 */
async function firstNonFinite(graph: Graph, batchSize: number): Promise<string | null> {
  const candidates: [string, Tensor][] = [[`the input of ${graph.layers[0].name}`, rows(graph.x, batchSize)]];
  for (const { name, params, built } of graph.layers) {
    for (const p of params) candidates.push([`${name} ${p.spec.name}`, p.value]);
    candidates.push([`${name} output`, rows(built.y, batchSize)]);
  }
  candidates.push(['the loss gradient', rows(graph.lossInput.grad, batchSize)]);
  for (const { name, params, built } of [...graph.layers].reverse()) {
    if (built.dY && built.dY !== graph.lossInput.grad) candidates.push([`${name} output gradient`, rows(built.dY, batchSize)]);
    for (const p of params) candidates.push([`${name} ${p.spec.name} gradient`, p.grad]);
  }
  for (const [what, tensor] of candidates) {
    const values = (await readTensor(graph.device, tensor)) as Float32Array;
    const index = values.findIndex((v) => !Number.isFinite(v));
    if (index >= 0) return `${what} (element ${index} is ${values[index]})`;
  }
  return null;
}
