// Sums of the running loss and accuracy after each step, from which Keras 3's
// printed epoch figures follow (see running_means.wgsl).
import source from '../../shaders/running_means.wgsl?raw';
import { bufferRange, expectTensor, type Tensor } from '../buffers';
import { prepareDispatch, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'running_means.wgsl', source };

/** sums = [seen, Σ m_i, Σ a_i] += [rows, lossSum / seen, correct / seen] after a step of `rows` rows. */
export async function runningMeansAccumulate(
  device: GPUDevice,
  t: { lossSum: Tensor; correct: Tensor; sums: Tensor },
  rows: number,
): Promise<Dispatch> {
  expectTensor('runningMeans', 'lossSum', t.lossSum, [1], 'f32');
  expectTensor('runningMeans', 'correct', t.correct, [1], 'u32');
  expectTensor('runningMeans', 'sums', t.sums, [3], 'f32');
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`runningMeans(): rows must be a positive integer, got ${rows}`);
  return prepareDispatch(device, shader, 'accumulate', {
    params: { rows },
    buffers: { loss_sum: bufferRange(t.lossSum), correct: bufferRange(t.correct), sums: bufferRange(t.sums) },
    grid: { workgroups: [1] },
    work: { flops: 5, bytes: 4 * 5 },
  });
}

/** Keras 3's printed figure from the sum of the running means over `steps` steps and the last running mean. */
export function kerasPrinted(sumOfMeans: number, last: number, steps: number): number {
  return (sumOfMeans + last) / (steps + 1);
}
