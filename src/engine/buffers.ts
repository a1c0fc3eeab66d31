// Tensors: typed views of GPU buffers (or of ranges of one), and the few ways
// data moves between them and the CPU.

export type DType = 'f32' | 'u32';

/** A dense row-major array on the GPU. Several tensors may share one buffer. */
export interface Tensor {
  buffer: GPUBuffer;
  shape: readonly number[];
  dtype: DType;
  /** Byte offset of the first element in `buffer`. */
  offset: number;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** An op's argument check: `<op>(): <name> has shape [..] but [..] was expected`, or the dtype equivalent. */
export function expectTensor(op: string, name: string, tensor: Tensor, shape: readonly number[], dtype: DType = 'f32'): void {
  if (tensor.dtype !== dtype) throw new Error(`${op}(): ${name} must be ${dtype} but is ${tensor.dtype}`);
  if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}(): ${name} has shape ${formatShape(tensor.shape)} but ${formatShape(shape)} was expected`);
  }
}

/**
 * An op's check that its output has memory of its own: WebGPU rejects a
 * dispatch that writes a buffer range another of its bindings reads, so an
 * elementwise op cannot run in place.
 */
export function expectDisjoint(op: string, output: [string, Tensor], input: [string, Tensor]): void {
  const [outName, out] = output;
  const [inName, inp] = input;
  const end = (t: Tensor) => t.offset + sizeOf(t.shape) * 4;
  if (out.buffer === inp.buffer && out.offset < end(inp) && inp.offset < end(out)) {
    throw new Error(`${op}(): ${outName} overlaps ${inName} in buffer '${out.buffer.label}'; the output needs memory of its own`);
  }
}

/**
 * A kernel with its bias as one more row: the matrix [rows + 1, columns] that
 * conv2d and matmul bind when the bias (or its gradient) follows the kernel
 * (or its gradient) in the same buffer, as a model's arenas keep them. Without
 * a bias, the kernel as that matrix.
 */
export function withBiasRow(op: string, names: [string, string], kernel: Tensor, bias: Tensor | undefined): Tensor {
  const columns = kernel.shape[kernel.shape.length - 1];
  const rows = sizeOf(kernel.shape) / columns;
  if (!bias) return { ...kernel, shape: [rows, columns] };
  expectTensor(op, names[1], bias, [columns]);
  if (bias.buffer !== kernel.buffer || bias.offset !== kernel.offset + rows * columns * 4) {
    throw new Error(`${op}(): ${names[1]} must follow ${names[0]} in its buffer (at byte ${kernel.offset + rows * columns * 4} of '${kernel.buffer.label}')`);
  }
  return { ...kernel, shape: [rows + 1, columns] };
}

/**
 * The other way: views of one tensor that holds a kernel of `shape` and then
 * its bias (one value per column, the kernel's last dimension), as the arenas
 * keep them and as withBiasRow binds them.
 */
export function splitBiasRow(both: Tensor, shape: readonly number[]): { w: Tensor; bias: Tensor } {
  return { w: { ...both, shape: [...shape] }, bias: { ...both, shape: [shape[shape.length - 1]], offset: both.offset + sizeOf(shape) * 4 } };
}

/** Checks scores [N, C] f32 (logits or probabilities) against labels [N] u32 and returns [N, C]. */
export function expectScoresAndLabels(op: string, name: string, scores: Tensor, labels: Tensor): [number, number] {
  const fail = (message: string): never => {
    throw new Error(`${op}(): ${message}`);
  };
  if (scores.dtype !== 'f32') fail(`${name} must be f32 but are ${scores.dtype}`);
  if (scores.shape.length !== 2) fail(`${name} must be [N, C] but have shape ${formatShape(scores.shape)}`);
  if (labels.dtype !== 'u32') fail(`labels must be u32 class indices but are ${labels.dtype}`);
  const [N, C] = scores.shape;
  if (labels.shape.length !== 1 || labels.shape[0] !== N) {
    fail(`labels have shape ${formatShape(labels.shape)} but ${name} have ${N} rows (${formatShape(scores.shape)})`);
  }
  return [N, C];
}

const TENSOR_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A tensor in a buffer of its own, zero-filled or holding `data`. */
export function createTensor(
  device: GPUDevice,
  shape: readonly number[],
  options: { dtype?: DType; label?: string; data?: ArrayLike<number> } = {},
): Tensor {
  const { dtype = 'f32', label = 'tensor', data } = options;
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`createTensor(${label}): shape ${formatShape(shape)} must be positive integers`);
  }
  const count = sizeOf(shape);
  if (data && data.length !== count) {
    throw new Error(`createTensor(${label}): ${data.length} values given for shape ${formatShape(shape)} (${count} elements)`);
  }
  const buffer = device.createBuffer({ label, size: count * 4, usage: TENSOR_USAGE(), mappedAtCreation: data !== undefined });
  if (data) {
    const mapped = buffer.getMappedRange();
    if (dtype === 'f32') new Float32Array(mapped).set(data);
    else new Uint32Array(mapped).set(data);
    buffer.unmap();
  }
  return { buffer, shape: [...shape], dtype, offset: 0 };
}

/** A byte count for an error message: `1,048,576 bytes (1.0 MiB)`. */
export const bytes = (n: number) => `${n.toLocaleString('en-US')} bytes (${(n / 2 ** 20).toFixed(1)} MiB)`;

/** Throws unless a buffer of `size` bytes can be made and bound on a device of these limits, naming `what`, the size and the limit (then `advice`). */
export function checkBufferSize(limits: GPUSupportedLimits, { what, size, advice = '' }: { what: string; size: number; advice?: string }): void {
  const { maxStorageBufferBindingSize, maxBufferSize } = limits;
  if (size > Math.min(maxStorageBufferBindingSize, maxBufferSize)) {
    const [name, limit] = maxBufferSize < maxStorageBufferBindingSize ? ['maxBufferSize', maxBufferSize] : ['maxStorageBufferBindingSize', maxStorageBufferBindingSize];
    throw new Error(`${what} takes ${bytes(size)}, over this device's ${name} of ${bytes(limit)}${advice}`);
  }
}

/** The same elements seen with another shape (Flatten is this: no copy). */
export function reshape(tensor: Tensor, shape: readonly number[]): Tensor {
  if (sizeOf(shape) !== sizeOf(tensor.shape)) {
    throw new Error(`reshape(): cannot view ${formatShape(tensor.shape)} as ${formatShape(shape)}`);
  }
  return { ...tensor, shape: [...shape] };
}

/** The first `batch` rows of a batch-major tensor: a smaller batch in buffers sized for the largest. */
export function rows(tensor: Tensor, batch: number): Tensor {
  return { ...tensor, shape: [batch, ...tensor.shape.slice(1)] };
}

/** The buffer range a tensor occupies, for a bind group entry. */
export function bufferRange(tensor: Tensor): GPUBufferBinding {
  return { buffer: tensor.buffer, offset: tensor.offset, size: sizeOf(tensor.shape) * 4 };
}

/**
 * A second binding of `tensor`, for a shader that reads it as vec4s when
 * `vectorized` (its rows have a multiple of 4 floats). Otherwise the shader
 * declares the view but never reads it, and it gets a placeholder of one vec4,
 * as the tensor may be smaller than that: `scratch` holds it, for the dispatch
 * to free.
 */
export function vec4View(device: GPUDevice, tensor: Tensor, vectorized: boolean): { range: GPUBuffer | GPUBufferBinding; scratch: GPUBuffer[] } {
  if (vectorized) return { range: bufferRange(tensor), scratch: [] };
  const placeholder = device.createBuffer({ label: `${tensor.buffer.label} unused vec4 view`, size: 16, usage: GPUBufferUsage.STORAGE });
  return { range: placeholder, scratch: [placeholder] };
}

export function writeTensor(device: GPUDevice, tensor: Tensor, data: Float32Array | Uint32Array): void {
  if (data.length !== sizeOf(tensor.shape)) {
    throw new Error(`writeTensor(${tensor.buffer.label}): ${data.length} values for shape ${formatShape(tensor.shape)}`);
  }
  device.queue.writeBuffer(tensor.buffer, tensor.offset, data.buffer, data.byteOffset, data.byteLength);
}

/** Copies a tensor back to the CPU. The only way data leaves the GPU. */
export async function readTensor(device: GPUDevice, tensor: Tensor): Promise<Float32Array | Uint32Array> {
  const size = sizeOf(tensor.shape) * 4;
  const staging = device.createBuffer({
    label: `read ${tensor.buffer.label}`,
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder({ label: `read ${tensor.buffer.label}` });
  encoder.copyBufferToBuffer(tensor.buffer, tensor.offset, staging, 0, size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const bytes = staging.getMappedRange().slice(0);
  staging.destroy();
  return tensor.dtype === 'f32' ? new Float32Array(bytes) : new Uint32Array(bytes);
}

/** A uniform buffer holding `bytes`, written once when it is created. */
export function createUniformBuffer(device: GPUDevice, bytes: ArrayBuffer, label: string): GPUBuffer {
  const buffer = device.createBuffer({
    label,
    size: bytes.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(bytes));
  buffer.unmap();
  return buffer;
}
