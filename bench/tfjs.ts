// TensorFlow.js' side of the benchmark: the same layers, loss and optimizer,
// trained with @tensorflow/tfjs on its WebGPU backend, on our GPUDevice.
import type * as TF from '@tensorflow/tfjs';
import type { Gpu, LayerConfig, Model, OptimizerConfig } from '../src/engine';

type Tf = typeof TF;

/** Keras' epsilon, with which tfjs-layers clips probabilities before the log. */
const EPSILON = 1e-7;

let loaded: Promise<Tf> | undefined;

/**
 * The WebGPU backend will not start without `navigator.gpu`, even when handed
 * a device, and Node has no navigator. This one only answers that check: the
 * backend runs on our device and never asks for a GPU of its own.
 */
function letTfjsStartInNode(): void {
  const gpu = { requestAdapter: () => Promise.reject(new Error('TensorFlow.js runs on the benchmark\'s device, not on a GPU of its own')) };
  if (typeof navigator === 'undefined') Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  else if (!navigator.gpu) Object.defineProperty(navigator, 'gpu', { value: gpu, configurable: true });
}

/**
 * TensorFlow.js with its WebGPU backend running on `gpu.device`, so that both
 * sides use one device. Importing the backend registers one that would ask
 * for a device of its own; ours replaces it before it ever starts.
 */
export function tfjsOn(gpu: Gpu): Promise<Tf> {
  loaded ??= (async () => {
    letTfjsStartInNode();
    const tf = await import('@tensorflow/tfjs');
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    const info = { vendor: gpu.adapter.vendor, architecture: gpu.adapter.architecture } as GPUAdapterInfo;
    tf.registerBackend('webgpu', () => new WebGPUBackend(gpu.device, info));
    if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js: the WebGPU backend did not start on our device');
    return tf;
  })();
  return loaded;
}

/**
 * Our layer config as the tf.layers layer Keras would make: our configs use
 * Keras' (and so tf.layers') names for the layer and its settings.
 */
function tfLayer(tf: Tf, layer: LayerConfig, inputShape?: number[]): TF.layers.Layer {
  const { type, ...settings } = layer;
  const make = (tf.layers as unknown as Record<string, (args: object) => TF.layers.Layer>)[type];
  if (typeof make !== 'function') throw new Error(`TensorFlow.js has no layer '${type}'`);
  return make({ ...settings, ...(inputShape && { inputShape }) });
}

/** Keras' sparse categorical cross-entropy on probabilities, computed as tfjs-layers' losses.ts does. */
function sparseCategoricalCrossentropy(tf: Tf, labels: TF.Tensor, probabilities: TF.Tensor): TF.Scalar {
  const classes = probabilities.shape[probabilities.shape.length - 1];
  const p = probabilities.clipByValue(EPSILON, 1 - EPSILON);
  const normalised = p.div(p.sum(-1, true)).clipByValue(EPSILON, 1 - EPSILON);
  return tf.oneHot(labels, classes).mul(normalised.log()).sum(-1).neg().mean();
}

export class TfjsTrainer {
  private lastLoss?: TF.Scalar;

  private constructor(
    private readonly tf: Tf,
    private readonly model: TF.Sequential,
    private readonly optimizer: TF.Optimizer,
    private readonly x: TF.Tensor,
    private readonly labels: TF.Tensor,
  ) {}

  /** `model`'s layers in TensorFlow.js, to be trained on the first `batch` rows of `data`. */
  static async create(gpu: Gpu, model: Model, optimizer: OptimizerConfig, batch: number, data: { x: Float32Array; labels: Uint32Array }): Promise<TfjsTrainer> {
    if (optimizer.kind !== 'rmsprop') throw new Error(`TfjsTrainer: only rmsprop is set up, not ${optimizer.kind}`);
    if (typeof optimizer.learningRate !== 'number') throw new Error(`TfjsTrainer: only a constant learning rate is set up, not ${optimizer.learningRate.kind}`);
    const tf = await tfjsOn(gpu);
    const layers = model.layers.map((layer, i) => tfLayer(tf, layer, i === 0 ? [...model.inputShape] : undefined));
    const tfModel = tf.sequential({ layers });
    const rowSize = data.x.length / data.labels.length;
    const x = tf.tensor(data.x.subarray(0, batch * rowSize), [batch, ...model.inputShape]);
    const labels = tf.tensor1d(Int32Array.from(data.labels.subarray(0, batch)), 'int32');
    const rmsprop = tf.train.rmsprop(optimizer.learningRate, optimizer.rho, 0, optimizer.epsilon);
    return new TfjsTrainer(tf, tfModel, rmsprop, x, labels);
  }

  /** `count` training steps back to back, then one drain (reading the last loss); returns the wall time. */
  async steps(count: number): Promise<number> {
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const loss = this.optimizer.minimize(
        () => sparseCategoricalCrossentropy(this.tf, this.labels, this.model.apply(this.x, { training: true }) as TF.Tensor),
        true,
      );
      this.lastLoss?.dispose();
      this.lastLoss = loss ?? undefined;
    }
    await this.lastLoss?.data();
    return performance.now() - started;
  }

  dispose(): void {
    this.lastLoss?.dispose();
    this.x.dispose();
    this.labels.dispose();
    this.optimizer.dispose();
    this.model.dispose();
  }
}
