// Classification accuracy: how many rows' highest prediction is at their label,
// added to a count kept on the GPU.
//
// N rows (the examples of a batch) of C predictions (logits or probabilities,
// one per class); labels holds each row's class.

override WORKGROUP_SIZE: u32;

struct Params {
  rows: u32,
  classes: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> predictions: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> correct: atomic<u32>;

// correct += number of rows i with argmax_j predictions[i, j] = labels[i].
//
// One invocation per row. The argmax is the first maximum, as numpy's and
// TensorFlow's, since only a strictly greater value replaces it. A label outside
// 0..C-1 equals no argmax, so its row counts as wrong. A batch has at most a
// few thousand rows, so one atomic add per correct row costs little.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= params.rows) {
    return;
  }
  var best = 0u;
  for (var j = 1u; j < params.classes; j++) {
    if (predictions[i * params.classes + j] > predictions[i * params.classes + best]) {
      best = j;
    }
  }
  if (best == labels[i]) {
    atomicAdd(&correct, 1u);
  }
}
