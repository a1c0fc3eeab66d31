// The gradients of the elementwise activations: dInput = dOut * f'(x), one
// entry point per function. The forward f(x) is the epilogue of the product
// before it (conv2d.wgsl, matmul.wgsl, with activate.wgsl's functions), but
// for a last layer whose loss takes its logits (fused with its sigmoid): for
// predict, `forward` applies it after.
//
// Each takes the forward's output y, not its input: each derivative is a
// function of y (relu' = [y > 0], sigmoid' = y (1 - y), tanh' = 1 - y²), so x
// need not be kept for the backward pass.
//
// Each entry point is a grid-stride loop: invocation i handles elements i,
// i + S, i + 2S, ... where S is the number of invocations launched, so the
// TypeScript side may cap the workgroup count at the device's per-dimension
// limit whatever the tensor's size. Lengths come from arrayLength: each tensor
// is bound to exactly its own range, and TypeScript checks that the tensors of
// a dispatch have one shape, so one length bounds every index.

override WORKGROUP_SIZE: u32;
// forward's activation: one of activate.wgsl's codes.
override ACTIVATION: u32 = 0u;

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> d_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> d_input: array<f32>;
// forward's input and output (y above is the backward's, read only).
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// out = f(x), as the products' epilogues compute it.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&out); i += groups.x * WORKGROUP_SIZE) {
    out[i] = activate(x[i], ACTIVATION);
  }
}

// relu'(x) = [x > 0] = [y > 0], NaNs as activate.wgsl's relu_gradient says.
@compute @workgroup_size(WORKGROUP_SIZE)
fn relu_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = relu_gradient(d_out[i], y[i]);
  }
}

// σ(x) = 1 / (1 + e^-x) gives σ'(x) = e^-x / (1 + e^-x)² = σ(x) (1 - σ(x)) = y (1 - y).
@compute @workgroup_size(WORKGROUP_SIZE)
fn sigmoid_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = d_out[i] * y[i] * (1.0 - y[i]);
  }
}

// tanh'(x) = 1 / cosh²(x) = (cosh²(x) - sinh²(x)) / cosh²(x) = 1 - tanh²(x) = 1 - y².
@compute @workgroup_size(WORKGROUP_SIZE)
fn tanh_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = d_out[i] * (1.0 - y[i] * y[i]);
  }
}
