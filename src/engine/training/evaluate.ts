// Model.evaluate's pass: the rows in their order, a batch at a time, their
// running means told to Keras' test callbacks (and bar, with verbose 1) at each
// progress update, and stopped there when the model's stopEvaluating is set.
import { shuffledRows } from '../dataSets';
import type { Graph, Inputs, Logs } from '../graph';
import { CallbackList, type Callback } from './callbacks';
import { defaultUpdateEvery, runPass } from './pass';
import { evaluationPrinter, progressWriter } from './progress';

export interface EvaluateOptions {
  batchSize?: number;
  /** 0 (the default): silent; 1: Keras' progress bar, where `setProgressWriter` says. */
  verbose?: 0 | 1;
  /** Keras' test callbacks: onTestBegin, onTestBatchEnd (at each progress update), onTestEnd. */
  callbacks?: Callback | Callback[];
}

/** The mean loss and metrics over the rows of x and y (`count` rows); over those evaluated before `stop()` said so, when it did. */
export async function evaluate(
  graph: Graph,
  data: { x: Inputs; y: ArrayLike<number>; count: number },
  options: { batchSize: number; verbose: 0 | 1; callbacks: readonly Callback[]; stop: () => boolean },
): Promise<Logs> {
  const { x, y, count } = data;
  const order = shuffledRows(count);
  const pass = await graph.data.pass({ x, y, order }, options.batchSize);
  const writer = progressWriter();
  const callbacks = new CallbackList([...options.callbacks, ...(options.verbose === 1 && writer ? [evaluationPrinter(writer, pass.steps)] : [])]);
  await callbacks.testBegin();
  const { logs } = await runPass(graph, pass, {
    kind: 'evaluate',
    x,
    order,
    updateEvery: defaultUpdateEvery(pass.steps),
    onUpdate: (step, progress) => callbacks.testBatchEnd(step, progress.logs),
    stop: options.stop,
  });
  await callbacks.testEnd(logs);
  return logs;
}
