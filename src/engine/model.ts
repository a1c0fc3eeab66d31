// The Keras-like API: sequential(layers), compile, fit, evaluate, predict,
// summary, and saving to / loading from a safetensors file.
import { defaultGpu, type Gpu } from './device';
import { sizeOf } from './buffers';
import { Graph, type Plan } from './graph';
import { layerShape, type LayerConfig, type ParamSpec } from './layers';
import { optimizerConfig, type OptimizerConfig } from './ops/optimizer';
import { encodeDispatches } from './pipelines';
import { seededRandom } from './random';

export interface CompileOptions {
  optimizer?: 'sgd' | 'momentum' | 'rmsprop' | 'adam' | OptimizerConfig;
  loss?: 'sparseCategoricalCrossentropy';
  metrics?: 'accuracy'[];
  /** Makes initialisation and shuffling reproducible: same seed, same device, same losses. */
  seed?: number;
  /** The device to train on; by default the one `defaultGpu()` picks. */
  gpu?: Gpu;
}

export interface Logs {
  loss: number;
  accuracy: number;
}

export interface EpochLogs extends Logs {
  valLoss?: number;
  valAccuracy?: number;
  /** Wall time of the epoch's training steps, divided by their number. */
  msPerStep: number;
  steps: number;
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  validationData?: [Float32Array, ArrayLike<number>];
  /** Steps between progress updates (each reads the running loss and accuracy back once). */
  updateEvery?: number;
  /** Called at each progress update with the running means of the epoch so far. */
  onBatchEnd?: (step: number, logs: Logs, epoch: number) => void;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
}

/** A snapshot of the running loss and accuracy sums, read back without stalling. */
interface Snapshot {
  step: number;
  logs: Promise<Logs>;
}

export class Model {
  private compiled: Required<Pick<CompileOptions, 'seed'>> & { optimizer: OptimizerConfig; gpu?: Gpu } = {
    seed: Date.now() >>> 0,
    optimizer: optimizerConfig('rmsprop'),
  };
  private graph?: Graph;
  private random = seededRandom(this.compiled.seed);
  /** Mappable copies of the loss and accuracy sums, used in turn. */
  private staging: GPUBuffer[] = [];
  private nextStaging = 0;

  /** Each layer's output shape and parameters, checked when the model is made. */
  readonly shapes: { output: number[]; params: ParamSpec[] }[] = [];

  constructor(
    readonly layers: readonly LayerConfig[],
    readonly inputShape: readonly number[],
  ) {
    if (layers.length === 0) throw new Error('sequential(): a model needs at least one layer');
    let shape = [...inputShape];
    layers.forEach((layer, i) => {
      this.shapes.push(layerShape(layer, shape, i));
      shape = this.shapes[i].output;
    });
  }

  compile(options: CompileOptions = {}): void {
    if (options.loss && options.loss !== 'sparseCategoricalCrossentropy') {
      throw new Error(`compile(): unknown loss '${options.loss}' (only 'sparseCategoricalCrossentropy')`);
    }
    for (const metric of options.metrics ?? []) {
      if (metric !== 'accuracy') throw new Error(`compile(): unknown metric '${metric}' (only 'accuracy')`);
    }
    const optimizer = options.optimizer ?? 'rmsprop';
    this.compiled = {
      seed: options.seed ?? this.compiled.seed,
      optimizer: typeof optimizer === 'string' ? optimizerConfig(optimizer) : optimizer,
      gpu: options.gpu,
    };
    this.random = seededRandom(this.compiled.seed);
    this.destroy();
  }

  /** The graph, built for at least `batch` rows; a rebuild for a bigger batch keeps the weights. */
  private async build(batch: number): Promise<Graph> {
    if (this.graph && this.graph.maxBatch >= batch) return this.graph;
    const gpu = this.compiled.gpu ?? (await defaultGpu());
    const weights = await this.graph?.readArena();
    this.destroy();
    const graph = new Graph(gpu.device, this.layers, this.inputShape, batch, this.compiled.optimizer, this.random);
    if (weights) graph.writeArena(weights);
    this.graph = graph;
    this.staging = Array.from({ length: 3 }, (_, i) =>
      gpu.device.createBuffer({ label: `metrics readback ${i}`, size: 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
    );
    return graph;
  }

  /** Frees the GPU buffers; the model builds them again when next used. */
  destroy(): void {
    this.graph?.destroy();
    for (const buffer of this.staging) buffer.destroy();
    this.graph = undefined;
    this.staging = [];
  }

  get outputShape(): number[] {
    return this.shapes[this.shapes.length - 1].output;
  }

  get paramCount(): number {
    return this.shapes.reduce((n, { params }) => n + params.reduce((m, p) => m + sizeOf(p.shape), 0), 0);
  }

  private checkData(what: string, x: Float32Array, y?: ArrayLike<number>): number {
    const rowSize = sizeOf(this.inputShape);
    if (x.length % rowSize !== 0) {
      throw new Error(`${what}: x has ${x.length} values, not a whole number of inputs of shape [${this.inputShape.join(', ')}] (${rowSize} values each)`);
    }
    const count = x.length / rowSize;
    if (y) {
      if (y.length !== count) throw new Error(`${what}: x holds ${count} inputs but y holds ${y.length} labels`);
      const classes = this.outputShape[0];
      for (let i = 0; i < y.length; i++) {
        if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= classes) {
          throw new Error(`${what}: label ${i} is ${y[i]}, outside 0..${classes - 1}`);
        }
      }
    }
    return count;
  }

  /** Records one batch's dispatches, optionally copying the running sums for a progress update. */
  private submit(graph: Graph, dispatches: Plan['train'], options: { clear?: boolean; snapshot?: GPUBuffer }): void {
    const device = graph.device;
    const encoder = device.createCommandEncoder({ label: 'step' });
    if (options.clear) {
      encoder.clearBuffer(graph.lossSum.buffer);
      encoder.clearBuffer(graph.correct.buffer);
    }
    encodeDispatches(encoder, dispatches);
    if (options.snapshot) {
      encoder.copyBufferToBuffer(graph.lossSum.buffer, 0, options.snapshot, 0, 4);
      encoder.copyBufferToBuffer(graph.correct.buffer, 0, options.snapshot, 4, 4);
    }
    device.queue.submit([encoder.finish()]);
  }

  private async readSnapshot(buffer: GPUBuffer, seen: number): Promise<Logs> {
    await buffer.mapAsync(GPUMapMode.READ);
    const bytes = buffer.getMappedRange();
    const logs = { loss: new Float32Array(bytes, 0, 1)[0] / seen, accuracy: new Uint32Array(bytes, 4, 1)[0] / seen };
    buffer.unmap();
    return logs;
  }

  /** Runs batches of `x` through `plan(batch)`, keeping the GPU busy; returns the final running means. */
  private async runBatches(
    graph: Graph,
    x: Float32Array,
    y: ArrayLike<number>,
    order: Uint32Array,
    batchSize: number,
    which: 'train' | 'evaluate',
    updateEvery: number,
    onUpdate?: (step: number, logs: Logs) => void,
  ): Promise<Logs> {
    const rowSize = sizeOf(this.inputShape);
    const xBatch = new Float32Array(batchSize * rowSize);
    const yBatch = new Uint32Array(batchSize);
    const steps = Math.ceil(order.length / batchSize);
    const pending: Snapshot[] = [];
    let last: Logs = { loss: NaN, accuracy: NaN };
    const settle = async () => {
      const snapshot = pending.shift()!;
      last = await snapshot.logs;
      onUpdate?.(snapshot.step, last);
    };
    let seen = 0;
    for (let step = 0; step < steps; step++) {
      const start = step * batchSize;
      const rows = Math.min(batchSize, order.length - start);
      for (let i = 0; i < rows; i++) {
        const index = order[start + i];
        xBatch.set(x.subarray(index * rowSize, (index + 1) * rowSize), i * rowSize);
        yBatch[i] = y[index];
      }
      graph.writeBatch(xBatch.subarray(0, rows * rowSize), yBatch.subarray(0, rows));
      seen += rows;
      const plan = await graph.plan(rows);
      const update = step === steps - 1 || (step + 1) % updateEvery === 0;
      // At most as many readbacks in flight as there are staging buffers.
      if (update && pending.length === this.staging.length) await settle();
      const snapshot = update ? this.staging[this.nextStaging++ % this.staging.length] : undefined;
      this.submit(graph, plan[which], { clear: step === 0, snapshot });
      if (snapshot) pending.push({ step, logs: this.readSnapshot(snapshot, seen) });
    }
    while (pending.length > 0) await settle();
    return last;
  }

  private shuffled(count: number, shuffle: boolean): Uint32Array {
    const order = Uint32Array.from({ length: count }, (_, i) => i);
    if (!shuffle) return order;
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  /** Trains with sparse categorical cross-entropy; returns the logs of each epoch. */
  async fit(x: Float32Array, y: ArrayLike<number>, options: FitOptions = {}): Promise<EpochLogs[]> {
    const { epochs = 1, batchSize = 32, shuffle = true, validationData } = options;
    const count = this.checkData('fit()', x, y);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`fit(): batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`fit(): epochs must be a non-negative integer, got ${epochs}`);
    if (validationData) this.checkData('fit() validationData', validationData[0], validationData[1]);
    const graph = await this.build(Math.min(batchSize, count));
    const steps = Math.ceil(count / batchSize);
    const updateEvery = options.updateEvery ?? Math.max(1, Math.ceil(steps / 20));
    // Plans for the full and the partial last batch are made before timing starts.
    await graph.plan(Math.min(batchSize, count));
    if (count % batchSize) await graph.plan(count % batchSize);
    const history: EpochLogs[] = [];
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = this.shuffled(count, shuffle);
      const started = performance.now();
      const logs = await this.runBatches(graph, x, y, order, Math.min(batchSize, count), 'train', updateEvery, (step, logs) =>
        options.onBatchEnd?.(step, logs, epoch),
      );
      const msPerStep = (performance.now() - started) / steps;
      const epochLogs: EpochLogs = { ...logs, msPerStep, steps };
      if (validationData) {
        const val = await this.evaluate(validationData[0], validationData[1], { batchSize });
        epochLogs.valLoss = val.loss;
        epochLogs.valAccuracy = val.accuracy;
      }
      history.push(epochLogs);
      options.onEpochEnd?.(epoch, epochLogs);
    }
    return history;
  }

  /** Mean loss and accuracy over a dataset. */
  async evaluate(x: Float32Array, y: ArrayLike<number>, options: { batchSize?: number } = {}): Promise<Logs> {
    const count = this.checkData('evaluate()', x, y);
    const graph = await this.build(Math.min(options.batchSize ?? 32, count));
    const batchSize = Math.min(graph.maxBatch, options.batchSize ?? graph.maxBatch);
    return this.runBatches(graph, x, y, this.shuffled(count, false), batchSize, 'evaluate', Infinity);
  }

  /** Class probabilities, [count, classes] row-major. */
  async predict(x: Float32Array, options: { batchSize?: number } = {}): Promise<Float32Array> {
    const count = this.checkData('predict()', x);
    const graph = await this.build(Math.min(options.batchSize ?? 32, count));
    const device = graph.device;
    const batchSize = Math.min(graph.maxBatch, options.batchSize ?? graph.maxBatch);
    const rowSize = sizeOf(this.inputShape);
    const classes = graph.classes;
    const result = device.createBuffer({ label: 'predictions', size: count * classes * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    for (let start = 0; start < count; start += batchSize) {
      const rows = Math.min(batchSize, count - start);
      graph.writeBatch(x.subarray(start * rowSize, (start + rows) * rowSize));
      const plan = await graph.plan(rows);
      const encoder = device.createCommandEncoder({ label: 'predict' });
      encodeDispatches(encoder, plan.predict);
      encoder.copyBufferToBuffer(graph.probabilities.buffer, 0, result, start * classes * 4, rows * classes * 4);
      device.queue.submit([encoder.finish()]);
    }
    await result.mapAsync(GPUMapMode.READ);
    const probabilities = new Float32Array(result.getMappedRange().slice(0));
    result.destroy();
    return probabilities;
  }

  /** The layer table, as Keras prints it. */
  summary(): string {
    const rows = this.layers.map((layer, i): [string, string, string] => {
      const { output, params } = this.shapes[i];
      const count = params.reduce((n, p) => n + sizeOf(p.shape), 0);
      return [`${layer.type}_${i} (${layer.type})`, `(None, ${output.join(', ')})`, count.toLocaleString('en-US')];
    });
    const header: [string, string, string] = ['Layer (type)', 'Output Shape', 'Param #'];
    const widths = [0, 1, 2].map((c) => Math.max(header[c].length, ...rows.map((r) => r[c].length)) + 2);
    const line = (r: [string, string, string]) => r[0].padEnd(widths[0]) + r[1].padEnd(widths[1]) + r[2].padStart(widths[2]);
    const rule = '─'.repeat(widths[0] + widths[1] + widths[2]);
    const total = this.paramCount.toLocaleString('en-US');
    return [rule, line(header), rule, ...rows.map(line), rule, `Total params: ${total}`, `Trainable params: ${total}`, rule].join('\n');
  }

  /** Every parameter, in layer order (kernel, then bias), named `layers.<i>.<name>`. */
  async getWeights(): Promise<Weight[]> {
    const graph = await this.build(1);
    const arena = await graph.readArena();
    return graph.params.map((p) => ({
      name: `layers.${p.layer}.${p.spec.name}`,
      shape: p.spec.shape,
      values: arena.slice(p.start, p.start + sizeOf(p.spec.shape)),
    }));
  }

  /** Replaces every parameter; names and shapes must match `getWeights()`'s. */
  async setWeights(weights: Weight[]): Promise<void> {
    const graph = await this.build(1);
    const byName = new Map(weights.map((w) => [w.name, w]));
    const arena = new Float32Array(graph.arenaLength);
    for (const p of graph.params) {
      const name = `layers.${p.layer}.${p.spec.name}`;
      const weight = byName.get(name);
      if (!weight) throw new Error(`setWeights(): no values for ${name}`);
      if (weight.shape.join() !== p.spec.shape.join() || weight.values.length !== sizeOf(p.spec.shape)) {
        throw new Error(`setWeights(): ${name} has shape [${weight.shape.join(', ')}] but the model expects [${p.spec.shape.join(', ')}]`);
      }
      arena.set(weight.values, p.start);
      byName.delete(name);
    }
    if (byName.size > 0) throw new Error(`setWeights(): the model has no parameter named ${[...byName.keys()].join(', ')}`);
    graph.writeArena(arena);
  }

  /** The model as a safetensors file: the architecture as JSON metadata, float32 weights. */
  async toBytes(): Promise<Uint8Array> {
    return encodeSafetensors(await this.getWeights(), {
      format: MODEL_FORMAT,
      architecture: JSON.stringify({ inputShape: this.inputShape, layers: this.layers }),
    });
  }

  /** Writes the model file atomically: to a temporary file, then renamed over `path`. */
  async save(path: string): Promise<void> {
    const bytes = await this.toBytes();
    const fsModule = 'node:fs/promises';
    const { writeFile, rename, rm } = await import(/* @vite-ignore */ fsModule);
    const temporary = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(temporary, bytes);
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}

export interface Weight {
  name: string;
  shape: number[];
  values: Float32Array;
}

const MODEL_FORMAT = 'webgpu-train/1';

function encodeSafetensors(weights: Weight[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const w of weights) {
    header[w.name] = { dtype: 'F32', shape: w.shape, data_offsets: [offset, offset + w.values.byteLength] };
    offset += w.values.byteLength;
  }
  // The header is padded with spaces so the data starts 8-byte aligned.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const w of weights) {
    bytes.set(new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength), at);
    at += w.values.byteLength;
  }
  return bytes;
}

function decodeSafetensors(bytes: Uint8Array, source: string): { weights: Weight[]; metadata: Record<string, string> } {
  const fail = (what: string): never => {
    throw new Error(`${source}: not a model file: ${what}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for a safetensors header`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (headerLength > bytes.length - 8) fail(`the header claims ${headerLength} bytes but the file holds ${bytes.length - 8} after its length`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__?: Record<string, string> };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    return fail(`the header is not JSON (${(error as Error).message})`);
  }
  const { __metadata__: metadata = {}, ...tensors } = header;
  const data = bytes.subarray(8 + headerLength);
  const weights = Object.entries(tensors).map(([name, t]) => {
    const [begin, end] = t.data_offsets ?? [];
    if (t.dtype !== 'F32') fail(`tensor ${name} is ${t.dtype}, only F32 is supported`);
    if (!(begin >= 0 && end <= data.length && end - begin === sizeOf(t.shape) * 4)) {
      fail(`tensor ${name} [${t.shape}] has data_offsets ${begin}..${end}, outside the ${data.length} data bytes or of the wrong size`);
    }
    return { name, shape: t.shape, values: new Float32Array(data.slice(begin, end).buffer) };
  });
  return { weights, metadata };
}

/** A model from the bytes `Model.toBytes()` wrote. */
export async function loadModelBytes(bytes: Uint8Array, options: { source?: string; gpu?: Gpu } = {}): Promise<Model> {
  const source = options.source ?? 'model';
  const { weights, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== MODEL_FORMAT) throw new Error(`${source}: not a model file: format is '${metadata.format}', expected '${MODEL_FORMAT}'`);
  const { inputShape, layers } = JSON.parse(metadata.architecture ?? 'null') ?? {};
  if (!Array.isArray(layers) || !Array.isArray(inputShape)) throw new Error(`${source}: not a model file: no architecture in its metadata`);
  const model = new Model(layers, inputShape);
  model.compile({ gpu: options.gpu });
  await model.setWeights(weights);
  return model;
}

/** Loads a model file written by `Model.save()` (Node). */
export async function loadModel(path: string, options: { gpu?: Gpu } = {}): Promise<Model> {
  const fsModule = 'node:fs/promises';
  const { readFile } = await import(/* @vite-ignore */ fsModule);
  return loadModelBytes(new Uint8Array(await readFile(path)), { source: path, gpu: options.gpu });
}

/** A model from a list of layers; the first layer gives the input shape. */
export function sequential(layers: LayerConfig[]): Model {
  const inputShape = layers[0]?.inputShape;
  if (!inputShape) throw new Error('sequential(): the first layer needs an inputShape, e.g. flatten({inputShape: [28, 28]})');
  return new Model(layers, inputShape);
}
