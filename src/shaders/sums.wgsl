// The sums a step's loss and metrics add to, kept on the GPU from an epoch's
// start so that training reads them back only at progress updates: a library,
// appended by TypeScript (ops/sums.ts) to the shaders of the losses and metrics
// (softmaxCrossEntropy.wgsl, sigmoidCrossEntropy.wgsl, meanError.wgsl,
// metrics.wgsl), whose forward entry points run as one workgroup of
// WORKGROUP_SIZE invocations (a power of two, the `override` each declares).
// It declares its two bindings itself; the shaders number theirs below 8.
//
// sums[0] is Σ loss and sums[1 + i] Σ metric i over the rows seen, a row's
// loss or metric being its mean over the row's values (Keras' mean over the
// last axis): the epoch's figures so far are these over the rows seen.
// running_means[0] counts the rows seen, and running_means[1 + k] is Σ over
// the steps of sums[k] / rows seen after the step. Keras 3 prints for an epoch
// not its means but the mean of the running means after each step, the last
// counted twice, (m_1 + ... + m_S + m_S) / (S + 1): keeping m_1 + ... + m_S
// here means no step waits on a readback. Dispatches run in order, so no
// atomics are needed: the loss' forward, first of a step's, counts the rows,
// and each adds its total to its own sum.

@group(0) @binding(8) var<storage, read_write> sums: array<f32>;
@group(0) @binding(9) var<storage, read_write> running_means: array<f32>;

var<workgroup> partial_sums: array<f32, WORKGROUP_SIZE>;

// Σ value over the workgroup's invocations, returned to each: a tree in
// workgroup memory, each level adding the upper half onto the lower. Call it
// from uniform control flow (it holds barriers).
fn workgroup_sum(lane: u32, value: f32) -> f32 {
  // The previous call's result may still be being read.
  workgroupBarrier();
  partial_sums[lane] = value;
  workgroupBarrier();
  for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partial_sums[lane] += partial_sums[lane + half];
    }
    workgroupBarrier();
  }
  return partial_sums[0];
}

// The loss' forward, in one invocation, before its total: `rows` more rows seen.
fn count_rows(rows: u32) {
  running_means[0] += f32(rows);
}

// In one invocation: a step's total of the loss (at 0) or of metric at - 1,
// added to its sum, and its running mean since the clear to running_means[at + 1].
fn add_total(at: u32, total: f32) {
  sums[at] += total;
  running_means[at + 1u] += sums[at] / running_means[0];
}
