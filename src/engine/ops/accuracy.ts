// Classification accuracy of predictions [N, C] against integer labels [N],
// counted on the GPU.
import source from '../../shaders/accuracy.wgsl?raw';
import { bufferRange, expectScoresAndLabels, formatShape, type Tensor } from '../buffers';
import { prepareDispatch, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'accuracy.wgsl', source };

/** Rows per workgroup, one invocation each. */
const WORKGROUP_SIZE = 64;

function fail(message: string): never {
  throw new Error(`accuracy(): ${message}`);
}

/**
 * correct[0] += the number of rows whose argmax (the first maximum on ties, as
 * in numpy and TensorFlow) is their label; a label outside 0..C-1 counts as
 * wrong. `predictions` may be logits or probabilities: softmax keeps the argmax.
 * The count stays on the GPU so that a training loop can keep a running total
 * over batches.
 */
export async function accuracyForward(
  device: GPUDevice,
  t: { predictions: Tensor; labels: Tensor; correct: Tensor },
): Promise<Dispatch> {
  const { predictions, labels, correct } = t;
  const [N, C] = expectScoresAndLabels('accuracy', 'predictions', predictions, labels);
  if (correct.dtype !== 'u32' || correct.shape.length !== 1 || correct.shape[0] !== 1) {
    fail(`correct must be one u32 but is ${correct.dtype} ${formatShape(correct.shape)}`);
  }
  return prepareDispatch(device, shader, 'forward', {
    constants: { WORKGROUP_SIZE },
    params: { rows: N, classes: C },
    buffers: { predictions: bufferRange(predictions), labels: bufferRange(labels), correct: bufferRange(correct) },
    grid: { threads: [N] },
    work: { flops: N * C, bytes: 4 * (N * C + N + 1) },
  });
}
