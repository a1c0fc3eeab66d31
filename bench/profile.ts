// Where a training step's time goes: each dispatch of the step timed on its own.
import { defaultGpu, describeAdapter } from '../src/engine/device';
import { Graph } from '../src/engine/graph';
import { optimizerConfig } from '../src/engine/ops/optimizer';
import { encodeDispatches } from '../src/engine/pipelines';
import { seededRandom } from '../src/engine/random';
import { tutorialModel, type TutorialModel } from '../src/engine/tutorial';

const kind = (process.argv[2] ?? 'cnn') as TutorialModel;
const batch = Number(process.argv[3] ?? 128);
const gpu = await defaultGpu();
console.log(describeAdapter(gpu.adapter));
const model = tutorialModel(kind);
const graph = new Graph(gpu.device, model.layers, model.inputShape, batch, optimizerConfig('rmsprop'), seededRandom(1));
const plan = await graph.plan(batch);
const device = gpu.device;
const time = async (dispatches: typeof plan.train, repeats: number) => {
  const encoder = device.createCommandEncoder();
  encodeDispatches(encoder, dispatches);
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  const start = performance.now();
  for (let i = 0; i < repeats; i++) {
    const e = device.createCommandEncoder();
    encodeDispatches(e, dispatches);
    device.queue.submit([e.finish()]);
  }
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - start) / repeats;
};
let total = 0;
for (const d of plan.train) {
  const ms = await time([d], 2);
  total += ms;
  console.log(`${d.kernel.name.padEnd(40)} ${d.workgroups.join('x').padEnd(14)} ${ms.toFixed(1)} ms`);
}
console.log(`sum of dispatches ${total.toFixed(1)} ms; whole step ${(await time(plan.train, 2)).toFixed(1)} ms`);
