// Batch normalization over the last axis (Keras' BatchNormalization), its
// gradient, and the moving statistics that inference uses.
//
// x is [rows, C] row-major: C channels (the last axis) and a row r for each
// position in all the others (N for [N, C], N·H·W for NHWC images). Per channel c:
//   training:  μ = (1/R) Σ_r x[r, c],  σ² = (1/R) Σ_r (x[r, c] - μ)²  (biased, as Keras),
//              moving_mean = momentum · moving_mean + (1 - momentum) · μ, and likewise
//              moving_variance with σ²;
//   inference: μ = moving_mean, σ² = moving_variance;
//   both:      x̂ = (x - μ) / sqrt(σ² + ε),  y = γ x̂ + β.
// μ and 1 / sqrt(σ² + ε) go to `mean` and `inv_std` ([C]), which `normalize`
// and the backward read.
//
// The per-channel sums (`statistics`, `backward_reduce`) run one workgroup per
// CHANNEL_LANES adjacent channels (so each load of a row reads adjacent
// addresses), whose ROW_LANES lanes of a channel each keep a running sum of
// every ROW_LANES-th row and then add them up in a tree in workgroup memory, as
// bias.wgsl does. One workgroup walks all the rows of its channels: enough for
// the models here; bias.wgsl's chunked second pass would spread long columns
// over more workgroups. The mean is taken first and the variance as the mean
// of squared deviations from it, which does not cancel as E[x²] - μ² does.

// Invocations per workgroup of the elementwise entry points.
override WORKGROUP_SIZE: u32;
// The reductions' workgroup is CHANNEL_LANES x ROW_LANES invocations; ROW_LANES
// must be a power of two, as the tree halves it.
override CHANNEL_LANES: u32;
override ROW_LANES: u32;

struct Params {
  rows: u32,
  channels: u32,
  momentum: f32,
  // From float64 on the CPU, as the optimizers' 1 - β.
  one_minus_momentum: f32,
  epsilon: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
// Updated by `statistics`, read by `moving_statistics`: one access mode for both.
@group(0) @binding(5) var<storage, read_write> moving_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> moving_variance: array<f32>;
// μ and 1 / sqrt(σ² + ε) of the statistics in use, [C].
@group(0) @binding(7) var<storage, read_write> mean: array<f32>;
@group(0) @binding(8) var<storage, read_write> inv_std: array<f32>;
@group(0) @binding(9) var<storage, read> d_out: array<f32>;
@group(0) @binding(10) var<storage, read_write> d_input: array<f32>;
// Written by `backward_reduce`, read by `backward_input`.
@group(0) @binding(11) var<storage, read_write> d_gamma: array<f32>;
@group(0) @binding(12) var<storage, read_write> d_beta: array<f32>;

var<workgroup> partial: array<f32, CHANNEL_LANES * ROW_LANES>;

// Adds up the lanes' partial sums of each channel: the total ends in row 0 of
// `partial`. Called by every invocation of the workgroup.
fn tree_sum(local: vec3u, value: f32) -> f32 {
  workgroupBarrier();
  partial[local.y * CHANNEL_LANES + local.x] = value;
  workgroupBarrier();
  for (var half = ROW_LANES / 2u; half > 0u; half /= 2u) {
    if (local.y < half) {
      partial[local.y * CHANNEL_LANES + local.x] += partial[(local.y + half) * CHANNEL_LANES + local.x];
    }
    workgroupBarrier();
  }
  return partial[local.x];
}

// Training: μ and σ² of each channel over the rows, into mean and inv_std, and
// the moving averages updated with them.
@compute @workgroup_size(CHANNEL_LANES, ROW_LANES)
fn statistics(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  let c = group.x * CHANNEL_LANES + local.x;
  let in_range = c < params.channels;
  var sum = 0.0;
  if (in_range) {
    for (var r = local.y; r < params.rows; r += ROW_LANES) {
      sum += x[r * params.channels + c];
    }
  }
  let mu = tree_sum(local, sum) / f32(params.rows);
  var squares = 0.0;
  if (in_range) {
    for (var r = local.y; r < params.rows; r += ROW_LANES) {
      let d = x[r * params.channels + c] - mu;
      squares += d * d;
    }
  }
  let variance = tree_sum(local, squares) / f32(params.rows);
  if (in_range && local.y == 0u) {
    mean[c] = mu;
    inv_std[c] = 1.0 / sqrt(variance + params.epsilon);
    moving_mean[c] = params.momentum * moving_mean[c] + params.one_minus_momentum * mu;
    moving_variance[c] = params.momentum * moving_variance[c] + params.one_minus_momentum * variance;
  }
}

// Inference: the moving statistics into mean and inv_std.
@compute @workgroup_size(WORKGROUP_SIZE)
fn moving_statistics(@builtin(global_invocation_id) id: vec3u) {
  let c = id.x;
  if (c < params.channels) {
    mean[c] = moving_mean[c];
    inv_std[c] = 1.0 / sqrt(moving_variance[c] + params.epsilon);
  }
}

// y = γ (x - μ) / sqrt(σ² + ε) + β, a grid-stride loop over the elements.
@compute @workgroup_size(WORKGROUP_SIZE)
fn normalize(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < params.rows * params.channels; i += groups.x * WORKGROUP_SIZE) {
    let c = i % params.channels;
    y[i] = gamma[c] * (x[i] - mean[c]) * inv_std[c] + beta[c];
  }
}

// y = γ x̂ + β gives dβ[c] = Σ_r dOut[r, c] and dγ[c] = Σ_r dOut[r, c] x̂[r, c],
// with x̂ recomputed from x, μ and 1/σ (σ = sqrt(σ² + ε) from here on).
@compute @workgroup_size(CHANNEL_LANES, ROW_LANES)
fn backward_reduce(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
  let c = group.x * CHANNEL_LANES + local.x;
  let in_range = c < params.channels;
  var sum = 0.0;
  var weighted = 0.0;
  if (in_range) {
    for (var r = local.y; r < params.rows; r += ROW_LANES) {
      let i = r * params.channels + c;
      sum += d_out[i];
      weighted += d_out[i] * (x[i] - mean[c]) * inv_std[c];
    }
  }
  let total = tree_sum(local, sum);
  let total_weighted = tree_sum(local, weighted);
  if (in_range && local.y == 0u) {
    d_beta[c] = total;
    d_gamma[c] = total_weighted;
  }
}

// In training μ and σ depend on every row of the channel. With g = dOut γ,
// x̂_r = (x_r - μ)/σ, ∂μ/∂x_j = 1/R and ∂σ/∂x_j = x̂_j / R:
//   ∂x̂_r/∂x_j = ([r = j] - 1/R) / σ - x̂_r x̂_j / (R σ),
//   dInput_j = Σ_r g_r ∂x̂_r/∂x_j = (1 / (R σ)) (R g_j - Σ_r g_r - x̂_j Σ_r g_r x̂_r)
//            = (γ / (R σ)) (R dOut_j - dβ - x̂_j dγ),
// per channel, with dβ and dγ from `backward_reduce`.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let R = f32(params.rows);
  for (var i = id.x; i < params.rows * params.channels; i += groups.x * WORKGROUP_SIZE) {
    let c = i % params.channels;
    let x_hat = (x[i] - mean[c]) * inv_std[c];
    d_input[i] = gamma[c] * inv_std[c] / R * (R * d_out[i] - d_beta[c] - x_hat * d_gamma[c]);
  }
}
