// Elementwise activations y = f(x) and their gradients: one entry point per
// function and direction, so the entry point's name selects the activation.
//
// The backward entry points take the forward's output y, not its input: each
// derivative is a function of y (relu' = [y > 0], sigmoid' = y (1 - y),
// tanh' = 1 - y²), so x need not be kept for the backward pass.
//
// Each entry point is a grid-stride loop: invocation i handles elements i,
// i + S, i + 2S, ... where S is the number of invocations launched, so the
// TypeScript side may cap the workgroup count at the device's per-dimension
// limit whatever the tensor's size. Lengths come from arrayLength: each tensor
// is bound to exactly its own range, and TypeScript checks that the tensors of
// a dispatch have one shape, so one length bounds every index.

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<storage, read> x: array<f32>;
// Written by the forward entry points and only read by the backward ones: a
// WGSL variable has a single access mode.
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> d_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_input: array<f32>;

// NaN rule: a NaN input gives a NaN output, and a NaN y a NaN gradient, so
// that a NaN is never hidden (TensorFlow.js gives relu(NaN) = NaN too). WGSL
// lets an implementation assume there are no NaNs, and its max and clamp
// return the non-NaN operand, so the test is on the bits, which no compiler
// may fold away: exponent all ones, mantissa not zero.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// exp is only ever taken of -|v|, so it cannot overflow: for v < 0 the form
// e / (1 + e) with e = exp(v) replaces 1 / (1 + exp(-v)), whose exp(-v) is inf
// for v below about -88 (and WGSL does not promise IEEE arithmetic on inf).
fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

// WGSL's tanh is only as accurate as sinh(v) / cosh(v), which some drivers
// evaluate through exp and turn into inf / inf = NaN for large |v|. In float32
// tanh(v) rounds to ±1 for |v| above about 9, so clamping changes no result.
fn stable_tanh(v: f32) -> f32 {
  return tanh(clamp(v, -10.0, 10.0));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn relu_forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&x); i += groups.x * WORKGROUP_SIZE) {
    let v = x[i];
    y[i] = select(0.0, v, v > 0.0 || is_nan(v));
  }
}

// relu'(x) is 1 for x > 0 and 0 for x < 0; y > 0 exactly when x > 0. At the
// kink x = 0 the gradient is taken as 0, as TensorFlow does. The mask selects
// dOut rather than multiplying it, so where y <= 0 a NaN dOut gives 0 (as in
// TensorFlow); a NaN y (the input was NaN) gives NaN.
@compute @workgroup_size(WORKGROUP_SIZE)
fn relu_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = select(select(0.0, d_out[i], y[i] > 0.0), y[i], is_nan(y[i]));
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sigmoid_forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&x); i += groups.x * WORKGROUP_SIZE) {
    y[i] = select(sigmoid(x[i]), x[i], is_nan(x[i]));
  }
}

// σ(x) = 1 / (1 + e^-x) gives σ'(x) = e^-x / (1 + e^-x)² = σ(x) (1 - σ(x)) = y (1 - y).
@compute @workgroup_size(WORKGROUP_SIZE)
fn sigmoid_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = d_out[i] * y[i] * (1.0 - y[i]);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn tanh_forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&x); i += groups.x * WORKGROUP_SIZE) {
    y[i] = select(stable_tanh(x[i]), x[i], is_nan(x[i]));
  }
}

// tanh'(x) = 1 / cosh²(x) = (cosh²(x) - sinh²(x)) / cosh²(x) = 1 - tanh²(x) = 1 - y².
@compute @workgroup_size(WORKGROUP_SIZE)
fn tanh_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = d_out[i] * (1.0 - y[i] * y[i]);
  }
}
