// The learning rate of each update, and the count of updates, on the GPU: one
// invocation, dispatched just before each optimizer update, so that a step
// needs nothing from the CPU. `step` is Keras' optimizer.iterations, the updates
// applied so far; each entry point but `constant` writes the rate that Keras 3's
// schedule (keras/src/optimizers/schedules/learning_rate_schedule.py) gives at
// that step, then counts the update, so the update reads the rate and
// step = iterations + 1 (Adam's t). `constant` only counts: the rate is the one
// last written from the CPU (Graph.learningRate).
//
// With params.advance = 0 an entry point writes the rate in effect (the one the
// next update will use) and counts nothing: how the rate is read between epochs.

struct Params {
  // 1 in a training step, 0 to read the rate in effect.
  advance: u32,
  // exponential_decay and cosine_decay: the initial learning rate.
  initial_rate: f32,
  decay_steps: u32,
  // exponential_decay: log2 of the decay rate, and 1 for a staircase.
  log2_decay_rate: f32,
  staircase: u32,
  // cosine_decay: the rate the decay starts from (warmup_target, or the
  // initial rate without warmup), α and 1 - α, and the warmup's length and rise
  // (warmup_target - initial rate; 0 steps without warmup).
  decay_from: f32,
  alpha: f32,
  one_minus_alpha: f32,
  warmup_steps: u32,
  warmup_rise: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> step: array<u32>;
@group(0) @binding(2) var<storage, read_write> learning_rate: array<f32>;
// piecewise_constant_decay: the boundaries, in increasing order, and one value
// more than them.
@group(0) @binding(3) var<storage, read> boundaries: array<u32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;

const HALF_PI = 1.5707963267948966;

// sin(x) for x in [0, π/2], from its Taylor series to x¹³ (the next term is
// below 1e-9): WGSL's sin need only come within 2^-11 of the value, and
// SwiftShader's is 1e-4 off, a 0.03% error in the learning rate.
fn sin_to_half_pi(x: f32) -> f32 {
  let x2 = x * x;
  var series = 1.0;
  for (var n = 13u; n >= 3u; n -= 2u) {
    series = 1.0 - x2 / f32(n * (n - 1u)) * series;
  }
  return x * series;
}

fn set_rate(rate: f32) {
  learning_rate[0] = rate;
  step[0] += params.advance;
}

@compute @workgroup_size(1)
fn constant() {
  step[0] += 1u;
}

// rate · decay_rate^(step / decay_steps), the exponent floored for a
// staircase. Floored as an integer division: in float32 a step that is a
// multiple of decay_steps could come out just below the next whole number.
@compute @workgroup_size(1)
fn exponential_decay() {
  let s = step[0];
  var p = f32(s) / f32(params.decay_steps);
  if (params.staircase == 1u) {
    p = f32(s / params.decay_steps);
  }
  set_rate(params.initial_rate * exp2(p * params.log2_decay_rate));
}

// values[0] while step <= boundaries[0], values[i] while
// boundaries[i - 1] < step <= boundaries[i], and the last value after the last boundary.
@compute @workgroup_size(1)
fn piecewise_constant_decay() {
  let s = step[0];
  var piece = 0u;
  while (piece < arrayLength(&boundaries) && s > boundaries[piece]) {
    piece++;
  }
  set_rate(values[piece]);
}

// With the step held at warmup_steps + decay_steps at most: a linear warmup
// from the initial rate while step < warmup_steps, then over decay_steps steps
// decay_from · ((1 - α) c + α), with c = (1 + cos(π d / decay_steps)) / 2 and d
// the steps since the warmup. c is computed as sin²(π (decay_steps - d) / (2 decay_steps)),
// equal to it, which keeps its relative precision near the end of the decay,
// where 1 + cos(...) would cancel to a few bits in float32.
@compute @workgroup_size(1)
fn cosine_decay() {
  let s = min(step[0], params.warmup_steps + params.decay_steps);
  if (s < params.warmup_steps) {
    set_rate(params.warmup_rise * (f32(s) / f32(params.warmup_steps)) + params.initial_rate);
    return;
  }
  let remaining = params.warmup_steps + params.decay_steps - s;
  let root = sin_to_half_pi(HALF_PI * (f32(remaining) / f32(params.decay_steps)));
  set_rate(params.decay_from * (params.one_minus_alpha * (root * root) + params.alpha));
}
