// Softmax cross-entropy of logits against integer labels, fused: forward adds
// the step's metrics (loss, rows classified right, running means) to sums kept
// on the GPU, and backward is the loss' gradient with respect to the logits.
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
// Σ loss and the number correct since the sums were cleared (an epoch's start).
@group(0) @binding(3) var<storage, read_write> loss_sum: array<f32>;
@group(0) @binding(4) var<storage, read_write> correct: array<u32>;
// [rows seen, Σ running mean loss, Σ running mean accuracy] since the same clear.
@group(0) @binding(5) var<storage, read_write> running_means: array<f32>;
@group(0) @binding(6) var<storage, read_write> dLogits: array<f32>;

// Keras clips the probability of the true class to [1e-7, 1 - 1e-7], which
// bounds the loss -log p between these two.
const MIN_LOSS = 1.0000000500000033e-7; // -log(1 - 1e-7)
const MAX_LOSS = 16.11809565095832; // -log(1e-7)

var<workgroup> partial_loss: array<f32, WORKGROUP_SIZE>;
var<workgroup> partial_correct: array<u32, WORKGROUP_SIZE>;

// A constant expression must not evaluate to NaN, so it is made from its bits
// at run time.
fn nan() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

// NaN rule: a row with a NaN logit has a NaN loss and a NaN gradient row, so
// that fit stops on it. Tested explicitly, on the bits: WGSL lets an
// implementation assume floats are never NaN, and SwiftShader's max, exp and
// log then lose them (a NaN logit gave a loss of 22.6).
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn row_has_nan(row: u32) -> bool {
  var found = false;
  for (var j = 0u; j < params.classes; j++) {
    found = found || is_nan(logits[row * params.classes + j]);
  }
  return found;
}

// The index of the row's first maximum, as numpy's and TensorFlow's argmax:
// only a strictly greater value replaces it. Its logit is the row's maximum.
fn first_max(row: u32) -> u32 {
  var best = 0u;
  var m = logits[row * params.classes];
  for (var j = 1u; j < params.classes; j++) {
    let z = logits[row * params.classes + j];
    if (z > m) {
      best = j;
      m = z;
    }
  }
  return best;
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

// One dispatch for all of a step's metrics, since on a CPU-emulated GPU each
// dispatch has a fixed cost larger than this work:
//   loss_sum += Σ_i loss_i, each loss clipped as Keras does; NaN for a label
//     outside 0..C-1, so that a bad label shows in the total;
//   correct += the rows whose first maximum is their label (a label outside
//     0..C-1 is no argmax, so its row counts as wrong);
//   running_means += [N, loss_sum / seen, correct / seen], seen the rows so far
//     after this step. Keras 3 prints for an epoch not its mean loss and
//     accuracy but the mean of the running means after each step, the last
//     counted twice, (m_1 + ... + m_S + m_S) / (S + 1): keeping m_1 + ... + m_S
//     here means no step waits on a readback.
//
// One workgroup: a batch has at most a few thousand rows. Each invocation
// takes rows lane, lane + WORKGROUP_SIZE, ..., finding each row's maximum once
// for both its loss and its argmax; a tree in workgroup memory adds up the
// invocations' losses and counts, and one invocation adds the totals to the
// sums and then updates the running means from them: no atomics needed, as
// dispatches run in order.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(local_invocation_index) lane: u32) {
  var loss_total = 0.0;
  var hits = 0u;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    let label = labels[i];
    var loss = nan();
    if (label < params.classes) {
      let best = first_max(i);
      let m = logits[i * params.classes + best];
      // lse - z_label as (m - z_label) + (lse - m): both terms are exact or
      // small, where lse itself could be large and round off a small loss.
      let raw = (m - logits[i * params.classes + label]) + shifted_log_sum_exp(i, m);
      // clamp would turn a NaN into a bound.
      loss = select(clamp(raw, MIN_LOSS, MAX_LOSS), nan(), is_nan(raw) || row_has_nan(i));
      hits += select(0u, 1u, best == label);
    }
    loss_total += loss;
  }
  partial_loss[lane] = loss_total;
  partial_correct[lane] = hits;
  workgroupBarrier();
  for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partial_loss[lane] += partial_loss[lane + half];
      partial_correct[lane] += partial_correct[lane + half];
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    loss_sum[0] += partial_loss[0];
    correct[0] += partial_correct[0];
    let seen = running_means[0] + f32(params.rows);
    running_means[0] = seen;
    running_means[1] += loss_sum[0] / seen;
    running_means[2] += f32(correct[0]) / seen;
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
  let m = logits[i * params.classes + first_max(i)];
  let shift = shifted_log_sum_exp(i, m);
  let poisoned = row_has_nan(i);
  for (var j = 0u; j < params.classes; j++) {
    let p = exp(logits[i * params.classes + j] - m - shift);
    dLogits[i * params.classes + j] = select((p - select(0.0, 1.0, j == label)) / f32(params.rows), nan(), poisoned);
  }
}
