// Optimizer updates, Keras 3's formulas in float32: one dispatch updates every
// parameter of a model, held in one flat buffer, from a gradient buffer of the same layout.
//
// Each entry point is elementwise over params.count values. The grid is capped
// (a strided grid, see pipelines.ts), so each invocation walks the buffer in
// strides of the whole grid's size; with a grid as large as the buffer it
// visits one element.

override WORKGROUP_SIZE: u32;

// One struct for every entry point (the uniform must be `params`); each reads
// only its own members. The 1 - β factors come from float64 on the CPU, as in
// Keras, where computing them from a float32 β near 1 would lose digits.
struct Params {
  count: u32,
  learning_rate: f32,
  momentum: f32,
  rho: f32,
  one_minus_rho: f32,
  epsilon: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  log_beta1: f32,
  log_beta2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
// SGD with momentum: the step last taken.
@group(0) @binding(3) var<storage, read_write> velocity: array<f32>;
// RMSprop: the moving average of g².
@group(0) @binding(4) var<storage, read_write> mean_square: array<f32>;
// Adam: the moving averages of g and g², and the step count t (0 before the first step).
@group(0) @binding(5) var<storage, read_write> first_moment: array<f32>;
@group(0) @binding(6) var<storage, read_write> second_moment: array<f32>;
@group(0) @binding(7) var<storage, read_write> step: array<u32>;

// p -= lr g.
@compute @workgroup_size(WORKGROUP_SIZE)
fn sgd(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < params.count; i += groups.x * WORKGROUP_SIZE) {
    param[i] -= params.learning_rate * grad[i];
  }
}

// v = momentum v - lr g; p += v.
@compute @workgroup_size(WORKGROUP_SIZE)
fn momentum(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < params.count; i += groups.x * WORKGROUP_SIZE) {
    let v = params.momentum * velocity[i] - params.learning_rate * grad[i];
    velocity[i] = v;
    param[i] += v;
  }
}

// s = ρ s + (1 - ρ) g²; p -= lr g / sqrt(s + ε). Keras 3 puts ε inside the
// square root (keras/src/optimizers/rmsprop.py), unlike Adam.
@compute @workgroup_size(WORKGROUP_SIZE)
fn rmsprop(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < params.count; i += groups.x * WORKGROUP_SIZE) {
    let g = grad[i];
    let s = params.rho * mean_square[i] + params.one_minus_rho * g * g;
    mean_square[i] = s;
    param[i] -= params.learning_rate * g / sqrt(s + params.epsilon);
  }
}

// One invocation, dispatched just before `adam` in the same step: the count
// stays on the GPU, so a step needs nothing from the CPU.
@compute @workgroup_size(1)
fn adam_step() {
  step[0] += 1u;
}

// 1 - β^t, given ln β, as -expm1(t ln β). Early in training β^t is close to 1
// (0.999 at t = 1 for β2), so 1 - pow(β, t) in float32 would keep only a few
// significant bits; the Taylor series of expm1 keeps them all where |t ln β| is
// small, and beyond that 1 - exp() is no longer a cancellation.
fn one_minus_power(log_beta: f32, t: u32) -> f32 {
  let x = log_beta * f32(t);
  if (x < -0.5) {
    return 1.0 - exp(x);
  }
  // expm1(x) = x (1 + x/2 (1 + x/3 (1 + ...))); for |x| <= 0.5 the terms past
  // x⁸/8! are below float32 rounding.
  var series = 1.0;
  for (var n = 8u; n >= 2u; n--) {
    series = 1.0 + x / f32(n) * series;
  }
  return -x * series;
}

// Keras 3 Adam: m += (g - m)(1 - β1); v += (g² - v)(1 - β2);
// p -= α m / (sqrt(v) + ε) with α = lr sqrt(1 - β2^t) / (1 - β1^t), which folds
// the bias corrections of m and v into the step size.
@compute @workgroup_size(WORKGROUP_SIZE)
fn adam(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = step[0];
  let alpha = params.learning_rate * sqrt(one_minus_power(params.log_beta2, t)) / one_minus_power(params.log_beta1, t);
  for (var i = id.x; i < params.count; i += groups.x * WORKGROUP_SIZE) {
    let g = grad[i];
    let m = first_moment[i] + (g - first_moment[i]) * params.one_minus_beta1;
    let v = second_moment[i] + (g * g - second_moment[i]) * params.one_minus_beta2;
    first_moment[i] = m;
    second_moment[i] = v;
    param[i] -= alpha * m / (sqrt(v) + params.epsilon);
  }
}
