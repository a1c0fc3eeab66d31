// Dynamic loss scaling, Keras 3's LossScaleOptimizer
// (keras/src/optimizers/loss_scale_optimizer.py), on the GPU, for mixed
// precision: the products of the backward pass multiply in f16, where a
// gradient below 2^-24 is zero and one above 65504 is infinite. So the loss'
// gradient is multiplied by a scale (2^15 at the start) before the backward
// pass, which moves every gradient up by as much, and the gradients are
// divided by it again before the optimizer sees them. A step whose gradients
// hold an infinity or a NaN (the scale was too large) is skipped, and the
// scale halved; after `growth_steps` finite steps in a row it doubles.
//
//   scale_gradient  the loss' gradient (the logits') times the scale, just
//                   after the loss' own dispatch;
//   unscale         every gradient divided by the scale, in place, so that
//                   clipping and the update see what they would unscaled (Keras
//                   unscales before its inner optimizer, which clips); any
//                   non-finite one raises `non_finite`;
//   adjust          one invocation: the scale and the count of finite steps,
//                   and the workgroup counts of the update's dispatches, which
//                   run indirectly from `dispatch_args`: as made after a finite
//                   step, zero after a non-finite one, so that the weights, the
//                   optimizer's state and its step count stay as they were.
//
// The scale is a power of two (ops/lossScale.ts checks the initial one), so
// scaling and unscaling are exact but for overflow. Whether a step was finite
// is an OR over the gradients, the same whatever order the invocations run
// in: a deterministic reduction, as clip.wgsl's norms are. A value is tested
// by its bits, not by comparisons, which a compiler may assume never see a NaN.

override WORKGROUP_SIZE: u32;

struct Params {
  // scale_gradient and unscale: the values to scale.
  count: u32,
  // adjust: finite steps in a row after which the scale doubles (Keras' dynamic_growth_steps).
  growth_steps: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Training state: the loss scale (Keras' dynamic_scale), and the finite steps
// since it last changed (Keras' step_counter).
@group(0) @binding(1) var<storage, read_write> scale: array<f32>;
@group(0) @binding(2) var<storage, read_write> finite_steps: array<u32>;
// The loss' gradient (scale_gradient), or the gradient arena (unscale).
@group(0) @binding(3) var<storage, read_write> values: array<f32>;
// Nonzero once unscale has met a non-finite gradient; adjust reads it and clears it.
@group(0) @binding(4) var<storage, read_write> non_finite: atomic<u32>;
// The workgroup counts of the update's dispatches, three each, as they were made...
@group(0) @binding(5) var<storage, read> workgroups: array<u32>;
// ...and as they are dispatched (indirectly) after this step.
@group(0) @binding(6) var<storage, read_write> dispatch_args: array<u32>;

const EXPONENT = 0x7f800000u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn scale_gradient(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let s = scale[0];
  for (var i = id.x; i < params.count; i += groups.x * WORKGROUP_SIZE) {
    values[i] *= s;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unscale(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // 1 / scale, exactly: scale is 0.5 * 2^e, so its inverse is 2^(1 - e).
  let inverse = ldexp(1.0, 1 - frexp(scale[0]).exp);
  var seen = 0u;
  for (var i = id.x; i < params.count; i += groups.x * WORKGROUP_SIZE) {
    let g = values[i];
    // All exponent bits set: an infinity or a NaN.
    seen |= u32((bitcast<u32>(g) & EXPONENT) == EXPONENT);
    values[i] = g * inverse;
  }
  if (seen != 0u) {
    atomicOr(&non_finite, 1u);
  }
}

@compute @workgroup_size(1)
fn adjust() {
  let finite = atomicLoad(&non_finite) == 0u;
  atomicStore(&non_finite, 0u);
  if (finite) {
    finite_steps[0] += 1u;
    if (finite_steps[0] >= params.growth_steps) {
      scale[0] *= 2.0;
      finite_steps[0] = 0u;
    }
  } else {
    scale[0] *= 0.5;
    finite_steps[0] = 0u;
  }
  for (var i = 0u; i < arrayLength(&workgroups); i++) {
    dispatch_args[i] = select(0u, workgroups[i], finite);
  }
}
