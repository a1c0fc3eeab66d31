// Dynamic loss scaling for mixed precision, Keras 3's LossScaleOptimizer: its
// settings, checked, and the dispatches of lossScale.wgsl around a training
// step: the loss' gradient scaled after the loss, the gradients unscaled and
// checked before the update, and the update gated on them.
import source from '../../shaders/lossScale.wgsl?raw';
import { bufferRange, expectTensor, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'lossScale.wgsl', source };

/** Keras' LossScaleOptimizer settings. */
export interface LossScaleConfig {
  /** The scale at the start (Keras' initial_scale): a power of two, so that scaling is exact. */
  initialScale: number;
  /** Finite steps in a row after which the scale doubles (Keras' dynamic_growth_steps). */
  dynamicGrowthSteps: number;
}

/** Keras' defaults: 2^15, doubled after 2,000 finite steps. */
export const LOSS_SCALE_DEFAULTS: LossScaleConfig = { initialScale: 2 ** 15, dynamicGrowthSteps: 2000 };

/** The settings with Keras' defaults for what is left out, in a fixed order (equal settings are equal as JSON), checked; `where` starts the errors. */
export function lossScaleConfig(settings: Partial<LossScaleConfig> = {}, where = 'lossScale'): LossScaleConfig {
  for (const name of Object.keys(settings)) {
    if (!Object.hasOwn(LOSS_SCALE_DEFAULTS, name)) throw new Error(`${where}: no setting named '${name}' (it has: ${Object.keys(LOSS_SCALE_DEFAULTS).join(', ')})`);
  }
  const { initialScale = LOSS_SCALE_DEFAULTS.initialScale, dynamicGrowthSteps = LOSS_SCALE_DEFAULTS.dynamicGrowthSteps } = settings;
  const exponent = typeof initialScale === 'number' ? Math.log2(initialScale) : NaN;
  if (!Number.isInteger(exponent) || exponent < -126 || exponent > 127) {
    throw new Error(`${where}: initialScale is ${initialScale} but must be a power of two within float32's normal range (2^-126 to 2^127)`);
  }
  if (!Number.isInteger(dynamicGrowthSteps) || dynamicGrowthSteps < 1 || dynamicGrowthSteps >= 2 ** 32) {
    throw new Error(`${where}: dynamicGrowthSteps is ${dynamicGrowthSteps} but must be a positive integer below 2^32`);
  }
  return { initialScale, dynamicGrowthSteps };
}

/** The training state of loss scaling: Keras' dynamic_scale (one f32) and step_counter (one u32, finite steps since the scale last changed). */
export interface LossScaleTensors {
  scale: Tensor;
  finiteSteps: Tensor;
}

/** A training step's loss scaling (see lossScale.wgsl). */
export interface LossScaling {
  /** The loss' gradient times the scale: recorded right after the loss' gradient. */
  scaleGradient: Dispatch;
  /** Before the update: every gradient unscaled and checked, then the scale adjusted and the update's workgroups written. */
  check: Dispatch[];
  /**
   * Gates the update's dispatches on the step being finite: each runs
   * indirectly, with the workgroups it has now (call it once they are final,
   * after kernel overrides), or none after a non-finite step.
   */
  gate(update: readonly Dispatch[]): void;
}

/**
 * The dispatches of loss scaling for one plan: `lossGradient` is the loss'
 * gradient (of what the loss reads: the logits for a fused softmax or
 * sigmoid, else the outputs), `grad` the gradient arena; the
 * update that `gate` gates holds `gated` dispatches.
 */
export async function lossScaling(
  device: GPUDevice,
  config: LossScaleConfig,
  tensors: LossScaleTensors & { lossGradient: Tensor; grad: Tensor; gated: number },
): Promise<LossScaling> {
  const { scale, finiteSteps, lossGradient, grad, gated } = tensors;
  expectTensor('lossScaling', 'scale', scale, [1]);
  expectTensor('lossScaling', 'finiteSteps', finiteSteps, [1], 'u32');
  for (const [name, tensor] of [['lossGradient', lossGradient], ['grad', grad]] as const) {
    if (tensor.dtype !== 'f32') throw new Error(`lossScaling(): ${name} must be f32 but is ${tensor.dtype}`);
  }
  if (!Number.isInteger(gated) || gated < 1) throw new Error(`lossScaling(): gated must be a positive number of dispatches, got ${gated}`);
  const label = (what: string) => `loss scaling ${what}`;
  const nonFinite = device.createBuffer({ label: label('non-finite flag'), size: 4, usage: GPUBufferUsage.STORAGE });
  const workgroups = device.createBuffer({ label: label('workgroups as made'), size: 12 * gated, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const args = device.createBuffer({ label: label('workgroups dispatched'), size: 12 * gated, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.INDIRECT });
  const state = { scale: bufferRange(scale), finite_steps: bufferRange(finiteSteps) };
  const lossCount = sizeOf(lossGradient.shape);
  const gradCount = sizeOf(grad.shape);
  const [scaleGradient, unscale, adjust] = await Promise.all([
    prepareDispatch(device, shader, 'scale_gradient', {
      constants: { WORKGROUP_SIZE },
      params: { count: lossCount, growth_steps: 0 },
      buffers: { scale: state.scale, values: bufferRange(lossGradient) },
      grid: { strided: lossCount },
      work: { flops: lossCount, bytes: 8 * lossCount },
    }),
    prepareDispatch(device, shader, 'unscale', {
      constants: { WORKGROUP_SIZE },
      params: { count: gradCount, growth_steps: 0 },
      buffers: { scale: state.scale, values: bufferRange(grad), non_finite: nonFinite },
      scratch: [nonFinite],
      grid: { strided: gradCount },
      work: { flops: gradCount, bytes: 8 * gradCount },
    }),
    prepareDispatch(device, shader, 'adjust', {
      params: { count: 0, growth_steps: config.dynamicGrowthSteps },
      buffers: { ...state, non_finite: nonFinite, workgroups, dispatch_args: args },
      scratch: [workgroups, args],
      grid: { workgroups: [1] },
    }),
  ]);
  return {
    scaleGradient,
    check: [unscale, adjust],
    gate(update) {
      if (update.length !== gated) throw new Error(`lossScaling(): gate() was given ${update.length} dispatches but the plan made room for ${gated}`);
      device.queue.writeBuffer(workgroups, 0, Uint32Array.from(update.flatMap((d) => d.workgroups)));
      update.forEach((dispatch, i) => {
        dispatch.indirect = { buffer: args, offset: 12 * i };
      });
    },
  };
}
