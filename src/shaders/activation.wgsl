// The gradients of the elementwise activations: dInput = dOut * f'(x), one
// entry point per function. The forward f(x) is mostly the epilogue of the
// product before it (conv2d.wgsl, matmul.wgsl, with activate.wgsl's
// functions); `forward` applies it on its own: for an activation layer, for
// predict after a last layer whose loss takes its logits (fused with its
// sigmoid), and in training after a product whose gradient needs its input (gelu).
//
// Each takes the forward's output y, not its input: each derivative is a
// function of y (relu' = [y > 0], sigmoid' = y (1 - y), tanh' = 1 - y², and
// likewise elu's, selu's, softplus' and leaky_relu's), so x need not be kept
// for the backward pass. But gelu, which is not monotonic, whose y does not
// give x back: its gradient takes the forward's input x (ops/activation.ts'
// gradientInput says which).
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

// elu(x) = x for x > 0, e^x - 1 below: elu'(x) = 1 above 0, and e^x = y + 1
// below (as TensorFlow's EluGrad computes it, from y). A NaN y gives NaN.
@compute @workgroup_size(WORKGROUP_SIZE)
fn elu_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = d_out[i] * select(y[i] + 1.0, 1.0, y[i] > 0.0);
  }
}

// selu(x) = λ x for x > 0, λ α (e^x - 1) below: selu'(x) = λ above 0, and
// λ α e^x = y + λ α below.
@compute @workgroup_size(WORKGROUP_SIZE)
fn selu_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = d_out[i] * select(y[i] + SELU_SCALE * SELU_ALPHA, SELU_SCALE, y[i] > 0.0);
  }
}

// y = ln(1 + e^x) gives e^x = e^y - 1, so softplus'(x) = e^x / (1 + e^x) =
// 1 - e^-y = -expm1(-y), which keeps its relative accuracy where y is small
// (1 - exp(-y) would cancel): its error is at most y's relative error. A NaN
// y gives NaN (expm1's max would turn it into a number).
@compute @workgroup_size(WORKGROUP_SIZE)
fn softplus_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = select(d_out[i] * -expm1(-y[i]), y[i], is_nan(y[i]));
  }
}

// leaky_relu'(x) = 1 for x > 0, NEGATIVE_SLOPE below (and at 0, as
// TensorFlow's LeakyReluGrad); with a slope >= 0, y > 0 exactly when x > 0. A
// NaN y gives NaN, as relu_gradient does.
@compute @workgroup_size(WORKGROUP_SIZE)
fn leaky_relu_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = select(select(NEGATIVE_SLOPE * d_out[i], d_out[i], y[i] > 0.0), y[i], is_nan(y[i]));
  }
}

// gelu(x) = x Φ(x) gives gelu'(x) = Φ(x) + x φ(x), from the forward's input x.
@compute @workgroup_size(WORKGROUP_SIZE)
fn gelu_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    let v = x[i];
    d_input[i] = select(d_out[i] * (normal_cdf(v) + v * normal_pdf(v)), v, is_nan(v));
  }
}
