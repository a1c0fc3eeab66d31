// The figures Keras 3 prints for an epoch: not the epoch's mean loss and
// accuracy but the mean of the running means after each step, with the last
// one counted twice, (m_1 + ... + m_N + m_N) / (N + 1). This keeps the sum
// m_1 + ... + m_N on the GPU, one step at a time, so no step waits on a readback.

struct Params {
  // The step's batch.
  rows: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Σ loss and the number correct since the epoch began (softmax_cross_entropy.wgsl, accuracy.wgsl).
@group(0) @binding(1) var<storage, read> loss_sum: array<f32>;
@group(0) @binding(2) var<storage, read> correct: array<u32>;
// [rows seen, Σ running mean loss, Σ running mean accuracy], zero at the epoch's start.
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;

// After step i: seen += rows; m_i = loss_sum / seen and a_i = correct / seen
// are the running means Keras shows after that step; each is added to its sum.
// One invocation: three numbers.
@compute @workgroup_size(1)
fn accumulate() {
  let seen = sums[0] + f32(params.rows);
  sums[0] = seen;
  sums[1] += loss_sum[0] / seen;
  sums[2] += f32(correct[0]) / seen;
}
