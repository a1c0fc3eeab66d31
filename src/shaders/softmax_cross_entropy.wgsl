// Softmax cross-entropy of logits against integer labels, fused: the loss
// added to a running total on the GPU, and its gradient with respect to the logits.
//
// N rows (the examples of a batch) of C logits z (one per class); labels holds
// each row's class. With lse(z) = log Σ_j exp(z_j), a row's loss is
// -log softmax(z)_label = lse(z) - z_label.

// Invocations per workgroup; a power of two, as forward's tree reduction halves it.
override WORKGROUP_SIZE: u32;

struct Params {
  rows: u32,
  classes: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss_sum: array<f32>;
@group(0) @binding(4) var<storage, read_write> dLogits: array<f32>;

// Keras clips the probability of the true class to [1e-7, 1 - 1e-7], which
// bounds the loss -log p between these two.
const MIN_LOSS = 1.0000000500000033e-7; // -log(1 - 1e-7)
const MAX_LOSS = 16.11809565095832; // -log(1e-7)

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

// A constant expression must not evaluate to NaN, so it is made from its bits
// at run time.
fn nan() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

fn row_max(row: u32) -> f32 {
  var m = logits[row * params.classes];
  for (var j = 1u; j < params.classes; j++) {
    m = max(m, logits[row * params.classes + j]);
  }
  return m;
}

// lse(z) - m for m = max_j z_j: every exp is at most 1, so none overflows, and
// the largest is exactly 1, so the sum does not underflow either.
fn shifted_log_sum_exp(row: u32, m: f32) -> f32 {
  var sum = 0.0;
  for (var j = 0u; j < params.classes; j++) {
    sum += exp(logits[row * params.classes + j] - m);
  }
  return log(sum);
}

// loss_sum[0] += Σ_i loss_i, each loss clipped as Keras does; NaN for a label
// outside 0..C-1, so that a bad label shows in the total.
//
// One workgroup: a batch has at most a few thousand rows. Each invocation
// adds up the losses of rows lane, lane + WORKGROUP_SIZE, ..., a tree in
// workgroup memory adds up the invocations' sums, and one invocation adds the
// total to the accumulator: no atomics needed, as dispatches run in order.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(local_invocation_index) lane: u32) {
  var sum = 0.0;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    let label = labels[i];
    var loss = nan();
    if (label < params.classes) {
      let m = row_max(i);
      // lse - z_label as (m - z_label) + (lse - m): both terms are exact or
      // small, where lse itself could be large and round off a small loss.
      loss = clamp((m - logits[i * params.classes + label]) + shifted_log_sum_exp(i, m), MIN_LOSS, MAX_LOSS);
    }
    sum += loss;
  }
  partial[lane] = sum;
  workgroupBarrier();
  for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partial[lane] += partial[lane + half];
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    loss_sum[0] += partial[0];
  }
}

// dLogits = (softmax(z) - onehot(label)) / N, the gradient of the mean loss.
//
// Derivation: ∂lse(z)/∂z_j = exp(z_j) / Σ_k exp(z_k) = softmax(z)_j and
// ∂z_label/∂z_j = [j = label], so ∂loss_i/∂z_ij = softmax(z_i)_j - [j = label_i],
// and the mean over N rows divides that by N. As in TensorFlow's fused op, this
// is the gradient of the unclipped loss. A label outside 0..C-1 matches no j,
// leaving softmax(z)/N.
//
// One invocation per row: it finds the row's maximum and log-sum-exp, then
// writes the row, softmax(z)_j = exp(z_j - m - (lse - m)).
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= params.rows) {
    return;
  }
  let label = labels[i];
  let m = row_max(i);
  let shift = shifted_log_sum_exp(i, m);
  for (var j = 0u; j < params.classes; j++) {
    let p = exp(logits[i * params.classes + j] - m - shift);
    dLogits[i * params.classes + j] = (p - select(0.0, 1.0, j == label)) / f32(params.rows);
  }
}
